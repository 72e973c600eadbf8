-- HTTP File Upload (XEP-0363). One row per slot handed out: the file's name,
-- declared size and type as the client asked for them, the owner (for the
-- quota and for account deletion), and where the slot is in its life:
-- 'pending' (PUT URL handed out), 'uploading' (one PUT claimed it),
-- 'complete' (stored, downloadable until it expires). The file itself lives
-- under the state directory, named by `slot` only, never by `filename`.
CREATE TABLE upload_slots (
    slot text PRIMARY KEY,
    host text NOT NULL,
    username text NOT NULL,
    filename text NOT NULL,
    size bigint NOT NULL CHECK (size >= 0),
    content_type text NOT NULL,
    state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'uploading', 'complete')),
    put_deadline timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);

CREATE INDEX upload_slots_owner ON upload_slots (host, username);
CREATE INDEX upload_slots_created ON upload_slots (created_at);
