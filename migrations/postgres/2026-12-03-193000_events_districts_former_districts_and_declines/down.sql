DROP TABLE event_reminder_declines;
DROP TABLE association_former_districts;
