-- A validated constraint cannot be made NOT VALID again; reverting 0005 drops it.
SELECT 1;
