-- Issue 17: the dashboard's monthly figures count the members each channel reaches (push,
-- email, line): city-wide aggregates only, frozen with the month.
CREATE TABLE stats_channel_months (
    month TEXT NOT NULL,
    channel TEXT NOT NULL,
    members INTEGER NOT NULL,
    PRIMARY KEY (month, channel)
);
