-- Attachment content of PostgreSQL deployments, one row per distinct content, so every
-- instance serves every file. SQLite deployments keep files under <data_dir>/attachments/.
CREATE TABLE attachment_blobs (
    sha256 TEXT PRIMARY KEY NOT NULL,
    content BLOB NOT NULL,
    created_at TEXT NOT NULL
);
