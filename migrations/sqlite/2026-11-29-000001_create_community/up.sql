-- The community model: district (校下) ─ association (町会) ─ han (班) ─ household (世帯) ─ member.
CREATE TABLE districts (
    id TEXT PRIMARY KEY NOT NULL,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    name_kana TEXT,
    kominkan TEXT,
    reported_associations INTEGER,
    reported_households INTEGER,
    checked BOOLEAN NOT NULL DEFAULT FALSE,
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    merged_into_id TEXT REFERENCES districts (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE associations (
    id TEXT PRIMARY KEY NOT NULL,
    district_id TEXT NOT NULL REFERENCES districts (id),
    name TEXT NOT NULL,
    name_kana TEXT,
    member_households INTEGER NOT NULL CHECK (member_households >= 0),
    area_households INTEGER CHECK (area_households >= 0),
    archived BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    UNIQUE (district_id, name)
);

CREATE TABLE hans (
    id TEXT PRIMARY KEY NOT NULL,
    association_id TEXT NOT NULL REFERENCES associations (id),
    name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (association_id, name)
);

CREATE TABLE households (
    id TEXT PRIMARY KEY NOT NULL,
    association_id TEXT NOT NULL REFERENCES associations (id),
    han_id TEXT REFERENCES hans (id),
    label TEXT NOT NULL,
    paper BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX households_association_han ON households (association_id, han_id);
CREATE INDEX households_han ON households (han_id);

-- City staff and admins have no household.
CREATE TABLE members (
    id TEXT PRIMARY KEY NOT NULL,
    household_id TEXT REFERENCES households (id),
    login TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    display_name TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX members_household ON members (household_id);

-- A role is held for a term; ended_at closes it and keeps the history.
-- scope_id is the han, association or district the role applies to (none for city-wide roles).
CREATE TABLE role_assignments (
    id TEXT PRIMARY KEY NOT NULL,
    member_id TEXT NOT NULL REFERENCES members (id),
    role TEXT NOT NULL,
    scope_id TEXT,
    term_year INTEGER NOT NULL,
    granted_by TEXT REFERENCES members (id),
    started_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX role_assignments_member ON role_assignments (member_id, ended_at);
CREATE INDEX role_assignments_scope ON role_assignments (scope_id, role, ended_at);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    association_id TEXT NOT NULL REFERENCES associations (id),
    code_hash TEXT NOT NULL UNIQUE,
    household_id TEXT REFERENCES households (id),
    role TEXT,
    max_uses INTEGER NOT NULL CHECK (max_uses > 0),
    uses INTEGER NOT NULL DEFAULT 0,
    expires_at TEXT NOT NULL,
    created_by TEXT REFERENCES members (id),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE INDEX invitations_association ON invitations (association_id);

-- 町会加入申請: a signed-in resident without a code asks an association to let them in.
CREATE TABLE join_requests (
    id TEXT PRIMARY KEY NOT NULL,
    association_id TEXT NOT NULL REFERENCES associations (id),
    member_id TEXT NOT NULL REFERENCES members (id),
    message TEXT NOT NULL,
    status TEXT NOT NULL,
    household_id TEXT REFERENCES households (id),
    decided_by TEXT REFERENCES members (id),
    decided_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX join_requests_association ON join_requests (association_id, status);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    actor_id TEXT REFERENCES members (id),
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT,
    association_id TEXT,
    detail TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_association ON audit_log (association_id, created_at);
