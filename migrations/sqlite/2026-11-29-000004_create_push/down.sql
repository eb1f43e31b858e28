DROP TABLE push_deliveries;
DROP TABLE push_jobs;
DROP TABLE muted_categories;
DROP TABLE push_subscriptions;
