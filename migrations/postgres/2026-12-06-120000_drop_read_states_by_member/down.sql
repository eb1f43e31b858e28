-- A member's reads and a household's receipts, each kept together: the inbox fetches the
-- state of one page's posts with one range scan per table instead of a random lookup per
-- post across the whole city's history (decisions.md record 33).
CREATE INDEX post_reads_member ON post_reads (member_id, post_id);
CREATE INDEX household_receipts_household
    ON household_receipts (household_id, post_id, confirmed_at);
