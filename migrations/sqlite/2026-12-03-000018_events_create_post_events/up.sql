-- The event (行事) a circular announces: one row per post that has one. Times are UTC;
-- an all-day event covers whole JST days from its start's day to its end's day.
CREATE TABLE post_events (
    post_id TEXT PRIMARY KEY NOT NULL REFERENCES posts (id),
    starts_at TEXT NOT NULL,
    ends_at TEXT,
    all_day BOOLEAN NOT NULL,
    place TEXT
);
CREATE INDEX post_events_starts_at ON post_events (starts_at);

-- A member's calendar feed: only a SHA-256 of the secret in its URL is kept; a new secret
-- replaces the row, so earlier URLs stop working.
CREATE TABLE calendar_feeds (
    member_id TEXT PRIMARY KEY NOT NULL REFERENCES members (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);

-- The day-before reminder of an event, claimed once in the transaction that queues its
-- pushes, so neither a second process nor a restart sends it again.
CREATE TABLE event_reminders (
    post_id TEXT PRIMARY KEY NOT NULL REFERENCES posts (id),
    job_id TEXT NOT NULL,
    queued_at TEXT NOT NULL
);
