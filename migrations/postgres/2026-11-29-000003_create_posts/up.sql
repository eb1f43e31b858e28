-- Circulars (回覧). tier: city | district | association, and scope_id the district or
-- association (none for the city); han-targeted association posts list their hans in
-- post_hans. published_at is when it is (or, while scheduled, will be) published.
CREATE TABLE posts (
    id TEXT PRIMARY KEY NOT NULL,
    author_id TEXT NOT NULL REFERENCES members (id),
    tier TEXT NOT NULL,
    scope_id TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    category TEXT NOT NULL,
    priority TEXT NOT NULL,
    requires_confirmation BOOLEAN NOT NULL,
    status TEXT NOT NULL,
    published_at TIMESTAMP,
    expires_at TIMESTAMP,
    answers_until TIMESTAMP,
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX posts_due ON posts (status, published_at);
CREATE INDEX posts_author ON posts (author_id, created_at);
CREATE INDEX posts_scope ON posts (tier, scope_id, published_at);

CREATE TABLE post_hans (
    post_id TEXT NOT NULL REFERENCES posts (id),
    han_id TEXT NOT NULL REFERENCES hans (id),
    PRIMARY KEY (post_id, han_id)
);

-- The inbox index: one row per audience key of a published post ('city', 'district:<id>',
-- 'association:<id>', 'han:<id>'). A member's inbox is a merge of at most four key ranges
-- read newest first; rows are removed when the post is withdrawn.
CREATE TABLE post_audiences (
    scope_key TEXT NOT NULL,
    published_at TIMESTAMP NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    expires_at TIMESTAMP,
    PRIMARY KEY (scope_key, published_at, post_id)
);
CREATE INDEX post_audiences_post ON post_audiences (post_id);

-- Earlier versions of an edited post, for its author.
CREATE TABLE post_versions (
    post_id TEXT NOT NULL REFERENCES posts (id),
    version INTEGER NOT NULL,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    edited_by TEXT NOT NULL REFERENCES members (id),
    edited_at TIMESTAMP NOT NULL,
    PRIMARY KEY (post_id, version)
);

-- Per member: opened and confirmed. household_id is the household at that moment, so a
-- member who moves later does not move their old household's receipt.
CREATE TABLE post_reads (
    post_id TEXT NOT NULL REFERENCES posts (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    read_at TIMESTAMP NOT NULL,
    confirmed_at TIMESTAMP,
    PRIMARY KEY (post_id, member_id)
);

-- Per household, the roll-up the receipts count: read or confirmed by any member, or
-- confirmed on paper by a 班長 or officer (paper_recorded_by).
CREATE TABLE household_receipts (
    post_id TEXT NOT NULL REFERENCES posts (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    read_at TIMESTAMP,
    confirmed_at TIMESTAMP,
    paper_recorded_by TEXT REFERENCES members (id),
    PRIMARY KEY (post_id, household_id)
);

CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    sha256 TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_name TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX attachments_post ON attachments (post_id);

-- Surveys and attendance (アンケート, 出欠). options is a JSON array of strings.
CREATE TABLE survey_questions (
    id TEXT PRIMARY KEY NOT NULL,
    post_id TEXT NOT NULL REFERENCES posts (id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL,
    prompt TEXT NOT NULL,
    options TEXT NOT NULL,
    required BOOLEAN NOT NULL,
    UNIQUE (post_id, position)
);

-- One answer per household, changeable until the deadline. answers is JSON.
CREATE TABLE survey_responses (
    post_id TEXT NOT NULL REFERENCES posts (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    answers TEXT NOT NULL,
    answered_at TIMESTAMP NOT NULL,
    PRIMARY KEY (post_id, household_id)
);
