-- The SMP's store on PostgreSQL (schema smp). Every text that is paged or ordered is COLLATE "C": bytewise, as
-- the bbolt backend orders its keys, so that both backends page identically. Identifiers are stored in their
-- canonical form ("scheme::value").

-- Service groups. A group's version lives in versions, which keeps it after the group is deleted.
CREATE TABLE groups (
    participant text COLLATE "C" PRIMARY KEY,
    owner       text NOT NULL DEFAULT '',
    in_sml      boolean NOT NULL,
    extensions  text[] NOT NULL DEFAULT '{}'
);

CREATE TABLE versions (
    participant text COLLATE "C" PRIMARY KEY,
    version     bigint NOT NULL
);

-- Service metadata: the processes, endpoints and redirect are kept as the JSON of smp.MarshalMetadata.
CREATE TABLE metadata (
    participant   text COLLATE "C" NOT NULL,
    document_type text COLLATE "C" NOT NULL,
    body          jsonb NOT NULL,
    PRIMARY KEY (participant, document_type)
);

-- The signed documents as served: flavour is smp.Flavour's byte, document_type '' for the service group.
CREATE TABLE documents (
    flavour       smallint NOT NULL,
    participant   text COLLATE "C" NOT NULL,
    document_type text COLLATE "C" NOT NULL,
    stored        bytea NOT NULL,
    PRIMARY KEY (flavour, participant, document_type)
);

CREATE TABLE users (
    name     text COLLATE "C" PRIMARY KEY,
    admin    boolean NOT NULL DEFAULT false,
    password text NOT NULL DEFAULT '',
    created  timestamptz
);

-- Bearer tokens by their SHA-256; id is the first 16 hex digits of it.
CREATE TABLE tokens (
    hash      bytea PRIMARY KEY,
    id        text COLLATE "C" NOT NULL,
    user_name text COLLATE "C" NOT NULL,
    created   timestamptz
);
CREATE INDEX tokens_user ON tokens (user_name);

-- Instance settings (signing key schedule, SML state...).
CREATE TABLE settings (
    name  text COLLATE "C" PRIMARY KEY,
    value bytea NOT NULL
);

-- SML registrations; the pending ones are the outbox, delivered by seq.
CREATE TABLE registrations (
    participant text COLLATE "C" PRIMARY KEY,
    state       text NOT NULL,
    op          text NOT NULL DEFAULT '',
    seq         bigint NOT NULL,
    attempts    integer NOT NULL DEFAULT 0,
    next        timestamptz,
    last_error  text NOT NULL DEFAULT '',
    since       timestamptz
);
CREATE INDEX registrations_outbox ON registrations (seq) WHERE state = 'pending';
CREATE INDEX registrations_state ON registrations (state, participant);

CREATE SEQUENCE registration_seq;

-- The web console's sessions, by the hex SHA-256 of the cookie.
CREATE TABLE console_sessions (
    key       text COLLATE "C" PRIMARY KEY,
    user_name text NOT NULL,
    admin     boolean NOT NULL DEFAULT false,
    since     timestamptz NOT NULL,
    seen      timestamptz NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (seen);
