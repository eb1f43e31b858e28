-- The adoption dashboard. One row per JST calendar month ('YYYY-MM'); finalized rows are
-- never recomputed, so history stays fixed when the rule or the data changes. rule is the JSON
-- of the active-district rule the month was judged by.
CREATE TABLE stats_months (
    month TEXT PRIMARY KEY NOT NULL,
    finalized BOOLEAN NOT NULL,
    rule TEXT NOT NULL,
    active_districts INTEGER NOT NULL,
    districts INTEGER NOT NULL,
    member_households INTEGER NOT NULL,
    registered_households INTEGER NOT NULL,
    computed_at TIMESTAMP NOT NULL
);

-- Counts behind each figure, per month and district or association; rates are derived
-- from them when read (reads_72h / expected_receipts, and so on).
CREATE TABLE stats_district_months (
    month TEXT NOT NULL REFERENCES stats_months (month) ON DELETE CASCADE,
    district_id TEXT NOT NULL REFERENCES districts (id),
    active BOOLEAN NOT NULL,
    months_with_posts INTEGER NOT NULL,
    associations INTEGER NOT NULL,
    member_households INTEGER NOT NULL,
    registered_households INTEGER NOT NULL,
    active_households INTEGER NOT NULL,
    posts_city INTEGER NOT NULL,
    posts_district INTEGER NOT NULL,
    posts_association INTEGER NOT NULL,
    expected_receipts INTEGER NOT NULL,
    reads_72h INTEGER NOT NULL,
    expected_confirmations INTEGER NOT NULL,
    confirmations_72h INTEGER NOT NULL,
    paper_households_served INTEGER NOT NULL,
    PRIMARY KEY (month, district_id)
);
-- A district's own series.
CREATE INDEX stats_district_months_district ON stats_district_months (district_id, month);

CREATE TABLE stats_association_months (
    month TEXT NOT NULL REFERENCES stats_months (month) ON DELETE CASCADE,
    association_id TEXT NOT NULL REFERENCES associations (id),
    district_id TEXT NOT NULL REFERENCES districts (id),
    member_households INTEGER NOT NULL,
    registered_households INTEGER NOT NULL,
    active_households INTEGER NOT NULL,
    posts_city INTEGER NOT NULL,
    posts_district INTEGER NOT NULL,
    posts_association INTEGER NOT NULL,
    expected_receipts INTEGER NOT NULL,
    reads_72h INTEGER NOT NULL,
    expected_confirmations INTEGER NOT NULL,
    confirmations_72h INTEGER NOT NULL,
    paper_households_served INTEGER NOT NULL,
    PRIMARY KEY (month, association_id)
);
CREATE INDEX stats_association_months_district ON stats_association_months (district_id, month);

-- Target 3: projects run with partners. partners is a JSON array of
-- chokai | npo | company | students | city.
CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    fiscal_year INTEGER NOT NULL,
    partners TEXT NOT NULL,
    description TEXT NOT NULL,
    created_by TEXT REFERENCES members (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX projects_year ON projects (fiscal_year);

-- Active households: the reads of the last 30 days, by time.
CREATE INDEX post_reads_read_at ON post_reads (read_at, household_id);
