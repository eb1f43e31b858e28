-- Corrections of the city's district list (rename, merge, archive, restore), one row each:
-- what the district was and became, so the list's history can be read back.
CREATE TABLE district_changes (
    id TEXT PRIMARY KEY NOT NULL,
    district_id TEXT NOT NULL REFERENCES districts (id),
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    changed_by TEXT REFERENCES members (id),
    changed_at TEXT NOT NULL
);
CREATE INDEX district_changes_district ON district_changes (district_id, changed_at);
