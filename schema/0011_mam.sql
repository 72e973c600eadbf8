-- Message archives (XEP-0313): each account's one-to-one messages, sent and
-- received, in the order the server handled them (`id`). `stanza_id` is the
-- XEP-0359 id the archive gave the message, which clients page by; `stanza`
-- is the message as archived, serialized with its xmlns='jabber:client',
-- so results embed it without re-parsing. `with_bare`/`with_full` are the
-- other party, for the 'with' filter (XEP-0313 §4.1.1).
CREATE TABLE mam_messages (
    id bigserial PRIMARY KEY,
    host text NOT NULL,
    username text NOT NULL,
    stanza_id text NOT NULL,
    with_bare text NOT NULL,
    with_full text NOT NULL,
    stamp timestamptz NOT NULL DEFAULT now(),
    stanza text NOT NULL,
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);

CREATE INDEX mam_messages_owner ON mam_messages (host, username, id);
CREATE INDEX mam_messages_with ON mam_messages (host, username, with_bare, id);
CREATE UNIQUE INDEX mam_messages_stanza_id ON mam_messages (host, username, stanza_id);
CREATE INDEX mam_messages_stamp ON mam_messages (stamp);
