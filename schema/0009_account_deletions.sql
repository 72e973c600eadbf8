-- Deletion requests from parleyctl. The running parleyd deletes the account
-- (so that modules can tell contacts, RFC 6121 §2.5.2) and is woken by
-- NOTIFY parley_account_deletions; requests made while it is stopped are
-- carried out when it next starts. A requested account can no longer log in.
CREATE TABLE account_deletions (
    host text NOT NULL,
    username text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
