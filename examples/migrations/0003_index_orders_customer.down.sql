-- pgshift:no-transaction
DROP INDEX CONCURRENTLY IF EXISTS app.orders_customer_id_idx;
