DROP TABLE app.customers;
DROP SCHEMA app;
