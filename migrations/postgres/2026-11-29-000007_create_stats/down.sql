DROP INDEX post_reads_read_at;
DROP TABLE projects;
DROP TABLE stats_association_months;
DROP TABLE stats_district_months;
DROP TABLE stats_months;
