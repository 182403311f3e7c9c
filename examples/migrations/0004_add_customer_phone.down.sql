ALTER TABLE app.customers DROP COLUMN phone;
