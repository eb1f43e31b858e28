-- Refresh tokens: only a SHA-256 of each is kept. A family is one sign-in; rotating spends
-- the old token, and presenting a spent one revokes the family.
CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id),
    family_id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL,
    created_at TIMESTAMP NOT NULL,
    spent_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_member ON refresh_tokens (member_id);

-- Failed sign-ins, counted per login and per client address for rate limiting.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY NOT NULL,
    login TEXT NOT NULL,
    client_address TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_login ON login_failures (login, created_at);
CREATE INDEX login_failures_address ON login_failures (client_address, created_at);
