-- pgshift:no-transaction
-- pgshift:statement-timeout 2h
-- Building the index CONCURRENTLY keeps writes flowing; IF NOT EXISTS makes a re-run after a failure safe.
CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON app.orders (customer_id);
