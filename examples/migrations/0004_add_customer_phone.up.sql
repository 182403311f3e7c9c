-- The linter warns here (prefer-text-field: a later change of the varchar length takes an ACCESS EXCLUSIVE
-- lock) but does not block: warnings are advice, only errors stop a migration.
ALTER TABLE app.customers ADD COLUMN phone varchar(32);
