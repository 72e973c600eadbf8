-- XEP-0484 FAST tokens: per account and client (the SASL2 <user-agent id/>),
-- a 'current' token and a 'new' one that replaces it once the client has
-- used it (XEP-0484 §6, two slots). The HT mechanisms (draft-ietf-kitten-
-- sasl-ht) key an HMAC with the token itself, so it is kept as issued,
-- like a password-equivalent secret: base64 text.
CREATE TABLE fast_tokens (
    host text NOT NULL,
    username text NOT NULL,
    agent_id text NOT NULL,
    slot text NOT NULL CHECK (slot IN ('current', 'new')),
    mechanism text NOT NULL,
    token text NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (host, username, agent_id, slot),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
