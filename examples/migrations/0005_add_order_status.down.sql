ALTER TABLE app.orders DROP CONSTRAINT orders_status_check;
ALTER TABLE app.orders DROP COLUMN status;
