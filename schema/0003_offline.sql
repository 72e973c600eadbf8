-- Offline messages (XEP-0160): messages for an account with no available
-- resource, kept until its next available presence. `stanza` is the message
-- as delivered (serialized with jabber:client as inherited namespace, the
-- XEP-0203 <delay/> already added), so delivery needs no re-parsing. `id`
-- gives the delivery order (XEP-0160 §4: in the order received).
CREATE TABLE offline_messages (
    id bigserial PRIMARY KEY,
    host text NOT NULL,
    username text NOT NULL,
    stamp timestamptz NOT NULL,
    stanza text NOT NULL,
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);

CREATE INDEX offline_messages_owner ON offline_messages (host, username, id);
