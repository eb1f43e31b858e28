-- When each periodic job last ran: instances sharing a PostgreSQL database claim a period
-- here, so a job runs once per period across them. (SQLite has one server per database
-- and leaves this empty.)
CREATE TABLE job_runs (
    name TEXT PRIMARY KEY NOT NULL,
    last_run_at TIMESTAMP NOT NULL
);
