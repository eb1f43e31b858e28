DROP TABLE email_digests;
DROP TABLE email_digest_entries;
DROP TABLE email_digest_members;
