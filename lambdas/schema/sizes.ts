import type { ClientBase } from 'pg';

/**
 * SQL for per-relation sizes over `pg_class c` that never waits on a lock. pg_total_relation_size and friends
 * open the relation with ACCESS SHARE, which queues behind a migration's ACCESS EXCLUSIVE lock: a report or a
 * drift check would then hang for as long as the migration runs. For a relation (or its TOAST table or an
 * index) that another session holds ACCESS EXCLUSIVE on, sizes come from relpages × block size instead, and
 * `size_estimated` says so (and `total_bytes` is null: add the parts). The caller's statement should still run with a lock_timeout for the race.
 */
export const LOCK_FREE_SIZES_SQL = `
  WITH locked AS (
    SELECT DISTINCT l.relation FROM pg_locks l
     WHERE l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock' AND l.granted AND l.pid <> pg_backend_pid()
       AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  ), rel AS (
    SELECT c.oid, c.reltoastrelid, c.relpages,
           (c.oid IN (SELECT relation FROM locked) OR c.reltoastrelid IN (SELECT relation FROM locked)
            OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indexrelid IN (SELECT relation FROM locked)))
             AS is_locked
      FROM pg_class c WHERE c.relkind IN ('r', 'p', 'm')
  )
  SELECT rel.oid,
         rel.is_locked AS size_estimated,
         CASE WHEN rel.is_locked THEN NULL ELSE pg_total_relation_size(rel.oid) END AS total_bytes,
         CASE WHEN rel.is_locked THEN rel.relpages::bigint * current_setting('block_size')::bigint
              ELSE pg_relation_size(rel.oid) END AS main_bytes,
         CASE WHEN rel.is_locked THEN
                (SELECT coalesce(sum(ic.relpages), 0)::bigint FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
                  WHERE i.indrelid = rel.oid) * current_setting('block_size')::bigint
              ELSE pg_indexes_size(rel.oid) END AS index_bytes,
         CASE WHEN rel.reltoastrelid = 0 THEN 0
              WHEN rel.is_locked THEN
                (SELECT coalesce(sum(tc.relpages), 0)::bigint FROM pg_class tc
                  WHERE tc.oid = rel.reltoastrelid
                     OR tc.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid = rel.reltoastrelid))
                * current_setting('block_size')::bigint
              ELSE pg_total_relation_size(rel.reltoastrelid) END AS toast_bytes
    FROM rel`;

/** Sets lock_timeout for the current transaction (a safety net around LOCK_FREE_SIZES_SQL's race). */
export async function setLocalLockTimeout(client: ClientBase, ms: number): Promise<void> {
  await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ms}ms`]);
}
