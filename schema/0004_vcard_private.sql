-- Profiles: vcard-temp (XEP-0054) with the avatar hash of XEP-0153, and
-- private XML storage (XEP-0049). Payloads are stored as serialized XML,
-- each carrying its own namespace declarations.
CREATE TABLE vcards (
    host text NOT NULL,
    username text NOT NULL,
    vcard text NOT NULL,
    -- Hex SHA-1 of the decoded PHOTO/BINVAL (XEP-0153 §3.1); '' when the vCard has no photo.
    avatar_hash text NOT NULL DEFAULT '',
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);

-- One stored element per (namespace, name) of the account (XEP-0049 §2).
CREATE TABLE private_xml (
    host text NOT NULL,
    username text NOT NULL,
    namespace text NOT NULL,
    name text NOT NULL,
    payload text NOT NULL,
    PRIMARY KEY (host, username, namespace, name),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
