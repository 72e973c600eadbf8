-- Sign-up with a phone number and an SMS code (module register, issue 4).

-- The verified number of an account. Private: only the owner and the
-- phone-book lookup (for people who already know the number) see it.
CREATE TABLE phone_numbers (
    host text NOT NULL,
    username text NOT NULL,
    number text NOT NULL,  -- E.164
    verified_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, username),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
CREATE INDEX phone_numbers_by_number ON phone_numbers (host, number);

-- One pending code per number. The code is stored hashed; 'credentials'
-- holds the SCRAM keys derived from the password given with a sign-up or a
-- reset (never the password). Not tied to an account: for a sign-up the
-- account does not exist yet.
CREATE TABLE phone_verifications (
    host text NOT NULL,
    number text NOT NULL,
    purpose text NOT NULL CHECK (purpose IN ('register', 'reset', 'change')),
    username text NOT NULL,
    credentials text,
    code_hash text NOT NULL,
    tries integer NOT NULL DEFAULT 0,
    sent_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (host, number)
);

-- Every SMS sent, for the hourly limits per number, per IP and per host.
CREATE TABLE sms_sends (
    host text NOT NULL,
    number text NOT NULL,
    ip text NOT NULL,
    sent_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sms_sends_by_time ON sms_sends (host, sent_at);

-- Numbers looked up through the phone book per account and UTC day (quota).
CREATE TABLE phonebook_usage (
    host text NOT NULL,
    username text NOT NULL,
    day date NOT NULL,
    numbers integer NOT NULL,
    PRIMARY KEY (host, username, day),
    FOREIGN KEY (host, username) REFERENCES accounts ON DELETE CASCADE
);
