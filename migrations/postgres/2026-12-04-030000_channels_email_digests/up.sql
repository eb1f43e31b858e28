-- Issue 17: a member may take circulars' mails as one digest a day. A row: daily; none: at once.
CREATE TABLE email_digest_members (
    member_id TEXT PRIMARY KEY NOT NULL REFERENCES members (id),
    chosen_at TIMESTAMP NOT NULL
);

-- A circular waiting for a daily member's next digest, written when the circular is
-- published instead of a mail; job_id names the digest (an outbox job) that took it.
CREATE TABLE email_digest_entries (
    member_id TEXT NOT NULL REFERENCES members (id),
    post_id TEXT NOT NULL REFERENCES posts (id),
    added_at TIMESTAMP NOT NULL,
    job_id TEXT,
    PRIMARY KEY (member_id, post_id)
);
CREATE INDEX email_digest_entries_job ON email_digest_entries (job_id, member_id);
CREATE INDEX email_digest_entries_post ON email_digest_entries (post_id);

-- The JST days whose digest was queued: inserted first, in the transaction that queues it,
-- so a second process or a restart never queues a day twice.
CREATE TABLE email_digests (
    day TEXT PRIMARY KEY NOT NULL,
    job_id TEXT NOT NULL,
    queued_at TIMESTAMP NOT NULL
);
