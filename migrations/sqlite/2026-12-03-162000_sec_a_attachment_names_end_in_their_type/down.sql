-- The added extensions stay: they are right, and the old names are not kept.
SELECT 1;
