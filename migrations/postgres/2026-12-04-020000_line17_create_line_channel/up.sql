-- Issue 17: LINE, a channel of the push outbox (D45, D66). An association (or the city,
-- association_id NULL) registers its LINE official account. The channel access token and
-- channel secret are sealed (AES-256-GCM, key derived from the server's link key) and never
-- returned by the API. refused_at/refusal: LINE answered 401 to the token; sending stops
-- until officers register a new one.
CREATE TABLE line_accounts (
    id TEXT PRIMARY KEY NOT NULL,
    owner TEXT NOT NULL UNIQUE,
    association_id TEXT REFERENCES associations (id),
    channel_id TEXT NOT NULL UNIQUE,
    access_token TEXT NOT NULL,
    channel_secret TEXT NOT NULL,
    monthly_quota INTEGER NOT NULL,
    -- The account's add-friend link (https://lin.ee/…), shown to members on /settings.
    friend_url TEXT,
    refused_at TIMESTAMP,
    refusal TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

-- Messages counted against an account's monthly quota (a multicast to n users counts n).
-- month is the JST month, YYYY-MM.
CREATE TABLE line_usage (
    account_id TEXT NOT NULL REFERENCES line_accounts (id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    sent INTEGER NOT NULL,
    PRIMARY KEY (account_id, month)
);

-- A member's LINE user on one account; id is the delivery's subscription_id.
CREATE TABLE line_links (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL UNIQUE REFERENCES members (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES line_accounts (id) ON DELETE CASCADE,
    line_user_id TEXT NOT NULL,
    linked_at TIMESTAMP NOT NULL,
    UNIQUE (account_id, line_user_id)
);

-- The one-time code a member sends to the official account to link it (one per member).
CREATE TABLE line_link_codes (
    member_id TEXT PRIMARY KEY NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    expires_at TIMESTAMP NOT NULL
);
