-- VALIDATE takes SHARE UPDATE EXCLUSIVE: reads and writes continue while existing rows are checked.
ALTER TABLE app.orders VALIDATE CONSTRAINT orders_status_check;
