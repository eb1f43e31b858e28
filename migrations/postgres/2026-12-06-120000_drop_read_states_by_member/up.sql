-- Each of these indexes cost every new read or confirmation one more random page (record
-- 33 added them for the inbox's read states, which the read book now answers; a member's
-- own states are looked up by primary key): decisions.md record 99.
DROP INDEX post_reads_member;
DROP INDEX household_receipts_household;
