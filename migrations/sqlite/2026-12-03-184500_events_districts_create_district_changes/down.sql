DROP TABLE district_changes;
