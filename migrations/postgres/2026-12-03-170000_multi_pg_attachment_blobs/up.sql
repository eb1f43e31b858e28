-- Attachment content of PostgreSQL deployments, one row per distinct content, so every
-- instance serves every file. SQLite deployments keep files under <data_dir>/attachments/.
CREATE TABLE attachment_blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    content BYTEA NOT NULL,
    created_at TIMESTAMP NOT NULL
);
