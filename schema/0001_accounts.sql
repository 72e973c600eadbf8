-- Accounts and their SCRAM credentials (RFC 5802, RFC 7677). Only the
-- derived keys are stored, never a password; salt, stored_key and
-- server_key are base64 text.
CREATE TABLE accounts (
    host text NOT NULL,
    username text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, username)
);

CREATE TABLE account_scram (
    host text NOT NULL,
    username text NOT NULL,
    hash text NOT NULL CHECK (hash IN ('SHA-1', 'SHA-256', 'SHA-512')),
    salt text NOT NULL,
    iterations integer NOT NULL,
    stored_key text NOT NULL,
    server_key text NOT NULL,
    PRIMARY KEY (host, username, hash),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
