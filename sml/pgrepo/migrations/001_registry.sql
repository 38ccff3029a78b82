-- The SML registry (schema "sml"). Keys that are listed in order are text COLLATE "C" (bytewise, as the bbolt
-- store orders them) or bytea. Times are Unix nanoseconds (bigint), as exact as the bbolt store keeps them.

-- The record settings fingerprint each domain's zone was computed with.
CREATE TABLE domains (
    zone     text COLLATE "C" PRIMARY KEY,
    settings text NOT NULL
);

-- The state of each zone: serial, journal bounds, participant count, settings fingerprint.
CREATE TABLE zones (
    zone         text COLLATE "C" PRIMARY KEY,
    serial       bigint NOT NULL,
    first_seq    bigint NOT NULL,
    next_seq     bigint NOT NULL,
    participants bigint NOT NULL,
    settings     text NOT NULL
);

-- SMPs, keyed by their lower-cased ID (SMP IDs are case-insensitive DNS labels); id keeps the case given.
CREATE TABLE smps (
    key            text COLLATE "C" PRIMARY KEY,
    id             text NOT NULL,
    logical        text NOT NULL,
    physical       text NOT NULL,
    owner          text NOT NULL,
    domain         text NOT NULL,
    created        bigint NOT NULL,
    updated        bigint NOT NULL,
    cert_not_after bigint NOT NULL DEFAULT 0
);

-- Participants of each zone; smp is the lower-cased SMP ID (the key of smps), smp_id the ID as given.
CREATE TABLE participants (
    zone    text COLLATE "C" NOT NULL,
    scheme  text COLLATE "C" NOT NULL,
    value   text COLLATE "C" NOT NULL,
    smp     text COLLATE "C" NOT NULL,
    smp_id  text NOT NULL,
    service text NOT NULL,
    created bigint NOT NULL,
    updated bigint NOT NULL,
    PRIMARY KEY (zone, scheme, value)
);
-- An SMP's participants in key order: ListParticipants pages and counts with it.
CREATE INDEX participants_by_smp ON participants (smp, zone, scheme, value);

-- The owner-name index of each zone: the first 16 bytes of the SHA-256 of the lower-cased name -> what lives
-- there ("p" for a participant, "s" + SMP ID for a publisher name).
CREATE TABLE names (
    zone text COLLATE "C" NOT NULL,
    hash bytea NOT NULL,
    what text NOT NULL,
    PRIMARY KEY (zone, hash)
);

-- The IXFR journal: the change of each commit, by zone and sequence number (zones.first_seq .. next_seq-1).
CREATE TABLE journal (
    zone        text COLLATE "C" NOT NULL,
    seq         bigint NOT NULL,
    from_serial bigint NOT NULL,
    to_serial   bigint NOT NULL,
    change      bytea NOT NULL,
    PRIMARY KEY (zone, seq)
);

-- Pending participant migrations (PrepareToMigrate), by participant.
CREATE TABLE migrations (
    zone     text COLLATE "C" NOT NULL,
    scheme   text COLLATE "C" NOT NULL,
    value    text COLLATE "C" NOT NULL,
    smp      text NOT NULL,
    hash     bytea NOT NULL,
    prepared bigint NOT NULL,
    expires  bigint NOT NULL,
    PRIMARY KEY (zone, scheme, value)
);

-- Certificate changes (ChangeCertificate): old identity -> successor.
CREATE TABLE cert_changes (
    old     text COLLATE "C" PRIMARY KEY,
    new     text NOT NULL,
    domain  text NOT NULL,
    at      bigint NOT NULL,
    created bigint NOT NULL
);

-- The web console's users and sessions.
CREATE TABLE console_users (
    name     text COLLATE "C" PRIMARY KEY,
    password text NOT NULL,
    created  timestamptz NOT NULL
);

CREATE TABLE console_sessions (
    key       text COLLATE "C" PRIMARY KEY,
    user_name text NOT NULL,
    admin     boolean NOT NULL,
    since     timestamptz NOT NULL,
    seen      timestamptz NOT NULL
);
CREATE INDEX console_sessions_seen ON console_sessions (seen);
