DROP INDEX IF EXISTS audit_log_by_target;
