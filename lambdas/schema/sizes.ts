import type { ClientBase } from 'pg';

/**
 * Settings for a transaction of catalog reads: a lock_timeout (a safety net around lockFreeTableSizesSql's race)
 * and no JIT. The size functions' per-row subplans give a catalog of 10,000 tables a cost estimate in the
 * millions, so PostgreSQL JIT-compiles (with inlining and optimization) a query that runs over catalog rows:
 * on that catalog the compilation took 4-5 of the report's 6 seconds (bench/catalog.ts, docs/performance.md).
 */
export async function setLocalCatalogSettings(client: ClientBase, lockTimeoutMs: number): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, true), set_config('jit', 'off', true)`, [
    `${lockTimeoutMs}ms`,
  ]);
}

/**
 * Per-relation sizes for just the relations `relationsSql` yields (a query with columns `oid` and `qname`), as a
 * complete statement with columns oid, qname, total_bytes, main_bytes, index_bytes, toast_bytes, reltuples and
 * size_estimated. It never waits on a lock: pg_total_relation_size and friends open the relation with ACCESS
 * SHARE, which queues behind a migration's ACCESS EXCLUSIVE lock, so a report or a drift check would hang for as
 * long as the migration runs. For a relation (or its TOAST table or an index) that another session holds ACCESS
 * EXCLUSIVE on, sizes come from relpages × block size instead, and `size_estimated` says so. The caller's
 * statement should still run with a lock_timeout for the race.
 *
 * The relation list and the lock check are MATERIALIZED so each relation is sized exactly once (joined as a
 * subquery, a sizes query can be planned inside a nested loop and re-run per namespace, over the system catalogs
 * too), and only the caller's relations are sized. A table's total is its table size (all forks and TOAST) plus
 * its indexes, which is what pg_total_relation_size adds up, without sizing the indexes twice; its TOAST is the
 * table size less the main fork (the main fork's free-space and visibility maps count with it).
 */
export function lockFreeTableSizesSql(relationsSql: string): string {
  return `
  WITH rels AS MATERIALIZED (${relationsSql}),
  locked AS MATERIALIZED (
    SELECT DISTINCT l.relation FROM pg_locks l
     WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  ), flagged AS MATERIALIZED (
    SELECT rels.qname, c.oid, c.reltoastrelid, c.relpages, c.reltuples,
           (c.oid IN (SELECT relation FROM locked) OR c.reltoastrelid IN (SELECT relation FROM locked)
            OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indexrelid IN (SELECT relation FROM locked)))
             AS is_locked
      FROM rels JOIN pg_class c ON c.oid = rels.oid
  ), sized AS MATERIALIZED (
    SELECT f.oid, f.qname, f.reltuples, f.is_locked,
           CASE WHEN f.is_locked THEN NULL ELSE pg_table_size(f.oid) END AS table_bytes,
           CASE WHEN f.is_locked THEN f.relpages::bigint * current_setting('block_size')::bigint
                ELSE pg_relation_size(f.oid) END AS main_bytes,
           CASE WHEN f.is_locked THEN
                  (SELECT coalesce(sum(ic.relpages), 0)::bigint FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                    WHERE i.indrelid = f.oid) * current_setting('block_size')::bigint
                ELSE pg_indexes_size(f.oid) END AS index_bytes,
           CASE WHEN NOT f.is_locked OR f.reltoastrelid = 0 THEN 0
                ELSE (SELECT coalesce(sum(tc.relpages), 0)::bigint FROM pg_class tc
                       WHERE tc.oid = f.reltoastrelid
                          OR tc.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = f.reltoastrelid))
                     * current_setting('block_size')::bigint END AS toast_bytes
      FROM flagged f
  )
  SELECT oid, qname, reltuples, is_locked AS size_estimated, main_bytes, index_bytes,
         CASE WHEN is_locked THEN toast_bytes ELSE table_bytes - main_bytes END AS toast_bytes,
         CASE WHEN is_locked THEN main_bytes + index_bytes + toast_bytes ELSE table_bytes + index_bytes END AS total_bytes
    FROM sized`;
}
