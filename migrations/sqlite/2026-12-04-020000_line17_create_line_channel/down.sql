DROP TABLE line_link_codes;
DROP TABLE line_links;
DROP TABLE line_usage;
DROP TABLE line_accounts;
