-- pgshift:lock-timeout 3s
-- A constant default adds the column without a rewrite (PostgreSQL 11+). The CHECK is added NOT VALID here
-- and validated by the next migration, in its own transaction, so no lock blocks reads during the scan.
ALTER TABLE app.orders ADD COLUMN status text NOT NULL DEFAULT 'pending';
ALTER TABLE app.orders
  ADD CONSTRAINT orders_status_check CHECK (status IN ('pending', 'paid', 'shipped', 'cancelled')) NOT VALID;
