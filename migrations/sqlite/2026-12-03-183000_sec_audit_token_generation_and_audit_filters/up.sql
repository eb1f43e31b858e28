-- Raised whenever a member's access tokens must stop at once (sign-out everywhere, a new
-- password, disabled, removed); every access token carries the value it was issued under.
ALTER TABLE members ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
-- The audit log read by action or by actor, newest first.
CREATE INDEX audit_log_by_action ON audit_log (action, created_at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_id, created_at);
CREATE INDEX audit_log_by_time ON audit_log (created_at, id);
