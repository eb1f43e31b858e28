DROP INDEX household_receipts_household;
DROP INDEX post_reads_member;
