-- XEP-0191 block lists and XEP-0012 last activity. Both belong to an
-- account and go with it.
CREATE TABLE blocklist_items (
    host text NOT NULL,
    username text NOT NULL,
    jid text NOT NULL,  -- normalised JID: full, bare, domain/resource or domain
    PRIMARY KEY (host, username, jid),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);

-- When the account's last session ended, and the status text of its last
-- unavailable presence (XEP-0012 §3).
CREATE TABLE last_activity (
    host text NOT NULL,
    username text NOT NULL,
    logout_at timestamptz NOT NULL,
    status text NOT NULL DEFAULT '',
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
