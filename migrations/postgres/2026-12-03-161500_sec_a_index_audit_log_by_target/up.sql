-- The reminders' cool-down asks when a member last reminded about one circular or safety check.
CREATE INDEX IF NOT EXISTS audit_log_by_target ON audit_log (target_id, actor_id, action, created_at);
