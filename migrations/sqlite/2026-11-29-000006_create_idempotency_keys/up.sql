-- Idempotency-Key records: one per member and key. The row is written in the same
-- transaction as what the request created; the answer is filled in just after.
CREATE TABLE idempotency_keys (
    member_id TEXT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    idempotency_key TEXT NOT NULL,
    -- SHA-256 of method, path with query, and body: a reuse with another request is refused.
    request_hash TEXT NOT NULL,
    -- NULL until the first answer is stored. A stored status with a NULL body: the answer
    -- held a secret (Cache-Control: no-store) and is not kept.
    response_status INTEGER,
    response_content_type TEXT,
    response_body BLOB,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (member_id, idempotency_key)
);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
