import type { ClientBase } from 'pg';
import { MigrationLockedError } from '../shared/errors';

/** Key of pgshift's session-level advisory lock (advisory locks are per database, so one key suffices). */
export const MIGRATION_LOCK_KEY = 'pgshift.migrate';

/**
 * Runs `fn` holding pgshift's advisory lock. Fails fast: a second run gets a MigrationLockedError naming the
 * holder's pid instead of queueing behind the first. Session-level, so it survives each migration's COMMIT.
 */
export async function withMigrationLock<T>(client: ClientBase, fn: () => Promise<T>): Promise<T> {
  const got = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [
    MIGRATION_LOCK_KEY,
  ]);
  if (!got.rows[0]?.ok) {
    const h = await migrationLockHolder(client);
    throw new MigrationLockedError(
      `Another pgshift run is migrating this database${h ? ` (pid ${h.pid}, ${h.application_name || 'no application name'}, connected ${new Date(h.backend_start).toISOString()})` : ''}; wait for it to finish`,
      { details: { pid: h?.pid } },
    );
  }
  try {
    return await fn();
  } finally {
    await client
      .query('SELECT pg_advisory_unlock(hashtext($1))', [MIGRATION_LOCK_KEY])
      .catch(() => undefined);
  }
}

/** The session holding pgshift's advisory lock on this database (a live run), if any. */
export async function migrationLockHolder(
  client: ClientBase,
): Promise<{ pid: number; application_name: string; backend_start: Date } | undefined> {
  const holder = await client.query<{ pid: number; application_name: string; backend_start: Date }>(
    `SELECT l.pid, a.application_name, a.backend_start
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.objid = (hashtext($1)::bigint & 4294967295)::oid
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      LIMIT 1`,
    [MIGRATION_LOCK_KEY],
  );
  return holder.rows[0];
}
