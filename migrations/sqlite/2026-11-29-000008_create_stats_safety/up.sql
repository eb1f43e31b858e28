-- Safety checks on the dashboard, per month and district or association: checks started in
-- the month that reached them, the households they targeted, and how many of those answered
-- within 72 hours of the start (decisions.md record 32). Separate tables, because the
-- month tables are at Diesel's 16-column limit; rows are replaced and frozen with their
-- stats_months row, and a month frozen before these tables existed has none.
CREATE TABLE stats_district_safety_months (
    month TEXT NOT NULL REFERENCES stats_months (month) ON DELETE CASCADE,
    district_id TEXT NOT NULL REFERENCES districts (id),
    checks INTEGER NOT NULL,
    households_targeted INTEGER NOT NULL,
    households_answered_72h INTEGER NOT NULL,
    PRIMARY KEY (month, district_id)
);
CREATE INDEX stats_district_safety_months_district
    ON stats_district_safety_months (district_id, month);

CREATE TABLE stats_association_safety_months (
    month TEXT NOT NULL REFERENCES stats_months (month) ON DELETE CASCADE,
    association_id TEXT NOT NULL REFERENCES associations (id),
    district_id TEXT NOT NULL REFERENCES districts (id),
    checks INTEGER NOT NULL,
    households_targeted INTEGER NOT NULL,
    households_answered_72h INTEGER NOT NULL,
    PRIMARY KEY (month, association_id)
);
CREATE INDEX stats_association_safety_months_district
    ON stats_association_safety_months (district_id, month);

-- A month's checks, by start.
CREATE INDEX safety_checks_started_at ON safety_checks (started_at);
