DROP TABLE spent_links;
DROP TABLE member_emails;
DROP TABLE muted_channels;
DROP INDEX push_deliveries_channel_due;
ALTER TABLE push_deliveries DROP COLUMN channel;
