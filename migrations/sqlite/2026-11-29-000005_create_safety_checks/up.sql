-- Safety checks (安否確認). tier and scope_id as for posts (city | district | association,
-- and the district or association); a check for some hans lists them in safety_check_hans.
-- A closed check keeps its record; closed_by is who closed it.
CREATE TABLE safety_checks (
    id TEXT PRIMARY KEY NOT NULL,
    started_by TEXT NOT NULL REFERENCES members (id),
    tier TEXT NOT NULL,
    scope_id TEXT,
    message TEXT NOT NULL,
    started_at TEXT NOT NULL,
    closed_at TEXT,
    closed_by TEXT REFERENCES members (id)
);
CREATE INDEX safety_checks_started_by ON safety_checks (started_by, started_at);

CREATE TABLE safety_check_hans (
    safety_check_id TEXT NOT NULL REFERENCES safety_checks (id),
    han_id TEXT NOT NULL REFERENCES hans (id),
    PRIMARY KEY (safety_check_id, han_id)
);

-- The same audience keys as post_audiences ('city', 'district:<id>', 'association:<id>',
-- 'han:<id>'): a member's checks are those under one of their keys.
CREATE TABLE safety_check_audiences (
    scope_key TEXT NOT NULL,
    safety_check_id TEXT NOT NULL REFERENCES safety_checks (id),
    PRIMARY KEY (scope_key, safety_check_id)
);

-- A household's current answer: safe | needs_help. on_behalf is true when an officer or
-- 班長 answered for the household (answered_by is then not one of its members).
CREATE TABLE safety_answers (
    safety_check_id TEXT NOT NULL REFERENCES safety_checks (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    status TEXT NOT NULL,
    note TEXT,
    answered_by TEXT NOT NULL REFERENCES members (id),
    on_behalf BOOLEAN NOT NULL,
    answered_at TEXT NOT NULL,
    PRIMARY KEY (safety_check_id, household_id)
);

-- Every answer ever given, so a changed answer is not lost to officers.
CREATE TABLE safety_answer_history (
    id TEXT PRIMARY KEY NOT NULL,
    safety_check_id TEXT NOT NULL REFERENCES safety_checks (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    status TEXT NOT NULL,
    note TEXT,
    answered_by TEXT NOT NULL REFERENCES members (id),
    on_behalf BOOLEAN NOT NULL,
    answered_at TEXT NOT NULL
);
CREATE INDEX safety_answer_history_household ON safety_answer_history (safety_check_id, household_id);
