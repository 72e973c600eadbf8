-- Rosters (RFC 6121 §2) and their subscription state (RFC 6121 §3), with a
-- per-account version for roster versioning (XEP-0237). Other modules read
-- these tables: "B may see A's presence" is A's row for B with subscription
-- 'from' or 'both'.
CREATE TABLE roster_items (
    host text NOT NULL,
    username text NOT NULL,
    contact text NOT NULL,  -- bare JID, normalised
    name text,
    subscription text NOT NULL DEFAULT 'none' CHECK (subscription IN ('none', 'to', 'from', 'both')),
    ask boolean NOT NULL DEFAULT false,         -- pending-out
    pending_in boolean NOT NULL DEFAULT false,  -- stored inbound subscribe
    approved boolean NOT NULL DEFAULT false,    -- pre-approval (RFC 6121 §3.4)
    groups text[] NOT NULL DEFAULT '{}',
    version bigint NOT NULL,
    PRIMARY KEY (host, username, contact),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);

CREATE TABLE roster_versions (
    host text NOT NULL,
    username text NOT NULL,
    version bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
