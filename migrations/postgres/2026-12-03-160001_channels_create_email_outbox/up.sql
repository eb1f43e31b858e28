-- Issue 17: email and LINE are channels of the push outbox. A delivery names its channel;
-- subscription_id is then the member's address on that channel (a push subscription, a
-- verified email address), each a UUID of its own table, so ids never collide.
ALTER TABLE push_deliveries ADD COLUMN channel TEXT NOT NULL DEFAULT 'push';
CREATE INDEX push_deliveries_channel_due ON push_deliveries (channel, status, next_attempt_at);

-- Channels a member turned off (push, email, line); none listed: every channel they set up.
CREATE TABLE muted_channels (
    member_id TEXT NOT NULL REFERENCES members (id),
    channel TEXT NOT NULL,
    PRIMARY KEY (member_id, channel)
);

-- A member's email address; mail goes only to a verified one. A new address is a new row id,
-- so a verification link for the previous address no longer matches.
CREATE TABLE member_emails (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL UNIQUE REFERENCES members (id),
    address TEXT NOT NULL,
    verified_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);

-- Signed links (confirm a circular, answer a safety check) work once: the SHA-256 of each
-- used link's signature.
CREATE TABLE spent_links (
    signature_hash TEXT PRIMARY KEY NOT NULL,
    spent_at TIMESTAMP NOT NULL
);
