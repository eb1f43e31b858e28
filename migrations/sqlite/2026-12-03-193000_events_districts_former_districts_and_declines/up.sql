-- The districts an association was in before a merge moved it: its members still read the
-- district circulars addressed there (D57).
CREATE TABLE association_former_districts (
    association_id TEXT NOT NULL REFERENCES associations (id),
    district_id TEXT NOT NULL REFERENCES districts (id),
    moved_at TEXT NOT NULL,
    PRIMARY KEY (association_id, district_id)
);
CREATE INDEX association_former_districts_district ON association_former_districts (district_id);

-- The households that declined an event, written when its reminder is claimed, so the
-- reminder's recipients leave them out with a subquery rather than a bound list (D57).
CREATE TABLE event_reminder_declines (
    post_id TEXT NOT NULL REFERENCES posts (id),
    household_id TEXT NOT NULL REFERENCES households (id),
    PRIMARY KEY (post_id, household_id)
);
