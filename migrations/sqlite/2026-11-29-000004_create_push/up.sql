-- Web Push subscriptions: one per browser or device, unique by endpoint.
CREATE TABLE push_subscriptions (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id),
    endpoint TEXT NOT NULL UNIQUE,
    p256dh TEXT NOT NULL,
    auth TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX push_subscriptions_member ON push_subscriptions (member_id);

-- Categories a member does not want to be notified of (urgent posts notify regardless).
CREATE TABLE muted_categories (
    member_id TEXT NOT NULL REFERENCES members (id),
    category TEXT NOT NULL,
    PRIMARY KEY (member_id, category)
);

-- One notification event: a post published, a reminder, a safety check.
CREATE TABLE push_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    post_id TEXT REFERENCES posts (id),
    topic TEXT NOT NULL,
    payload TEXT NOT NULL,
    urgent BOOLEAN NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX push_jobs_post ON push_jobs (post_id);

-- The durable outbox: one delivery per job and subscription, written in the same
-- transaction as the job. status: pending | done | failed | gone. A worker claims rows by
-- setting claimed_by and claimed_until; a crashed worker's claims lapse and the rows are
-- sent again.
CREATE TABLE push_deliveries (
    job_id TEXT NOT NULL REFERENCES push_jobs (id),
    subscription_id TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    claimed_until TEXT,
    claimed_by TEXT,
    last_status INTEGER,
    finished_at TEXT,
    PRIMARY KEY (job_id, subscription_id)
);
CREATE INDEX push_deliveries_due ON push_deliveries (status, next_attempt_at);
CREATE INDEX push_deliveries_subscription ON push_deliveries (subscription_id);
-- A worker loads the batch it just claimed.
CREATE INDEX push_deliveries_claim ON push_deliveries (claimed_by);
