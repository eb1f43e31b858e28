DROP TABLE event_reminders;
DROP TABLE calendar_feeds;
DROP INDEX post_events_starts_at;
DROP TABLE post_events;
