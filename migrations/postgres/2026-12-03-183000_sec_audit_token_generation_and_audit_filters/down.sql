DROP INDEX audit_log_by_time;
DROP INDEX audit_log_by_actor;
DROP INDEX audit_log_by_action;
ALTER TABLE members DROP COLUMN token_generation;
