-- Browser sessions of the web pages: a cookie names one row by the SHA-256 of its token.
-- Sliding: last_seen_at and expires_at move forward while the member keeps coming back.
CREATE TABLE web_sessions (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id),
    token_hash TEXT NOT NULL UNIQUE,
    -- The CSRF token of every form in this session (not a credential on its own).
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX web_sessions_member ON web_sessions (member_id);

-- One-time sign-in QR codes an officer prints for a household member: single use, short
-- lived; only a SHA-256 of the token is kept.
CREATE TABLE sign_in_codes (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT REFERENCES members (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX sign_in_codes_member ON sign_in_codes (member_id);

-- How a member's pages look: language of the system text, text size, high contrast.
CREATE TABLE member_preferences (
    member_id TEXT PRIMARY KEY NOT NULL REFERENCES members (id),
    language TEXT NOT NULL,
    text_size TEXT NOT NULL,
    high_contrast BOOLEAN NOT NULL,
    updated_at TEXT NOT NULL
);
