import { quoteIdent, withClient, withDatabaseName, type DatabaseTarget } from '../shared/db';
import { RestoreRefusedError, errorMessage } from '../shared/errors';
import { ensureHistoryTables, recordHistoryEvent } from '../shared/history';
import type { Log } from '../shared/logger';
import { parseCopyName, type CopyKind } from './names';

export interface RestoreCopy {
  name: string;
  kind: CopyKind;
  createdAt: string;
}

/** The `<db>__pgshift_before_*` / `__pgshift_restore_*` copies that restores left on this server, oldest first. */
export async function listRestoreCopies(target: DatabaseTarget): Promise<RestoreCopy[]> {
  return withClient(
    withDatabaseName(target, 'postgres'),
    async (c) => {
      const res = await c.query<{ datname: string }>(
        `SELECT datname FROM pg_database WHERE strpos(datname, '__pgshift_') > 0 ORDER BY datname`,
      );
      return res.rows
        .flatMap((r) => {
          const parsed = parseCopyName(target.database, r.datname);
          return parsed
            ? [{ name: r.datname, kind: parsed.kind, createdAt: parsed.createdAt.toISOString() }]
            : [];
        })
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    },
    'pgshift-restore',
  );
}

export interface CleanupOptions {
  target: DatabaseTarget;
  /** Must equal the database name: dropping copies loses the only pre-restore state kept on the server. */
  confirm?: string;
  /** Drop only copies older than this many days. @default 0 (all) */
  olderThanDays?: number;
  executionId: string;
  now?: () => Date;
  /** Retention runs after a restore without a typed confirmation: the restore's own confirm covers it. */
  skipConfirm?: boolean;
}

/** Drops the copies restores kept (action `cleanup`, or retention); records what it dropped in history. */
export async function cleanupRestoreCopies(
  deps: { log: Log },
  options: CleanupOptions,
): Promise<{ dropped: RestoreCopy[]; kept: RestoreCopy[] }> {
  const { target } = options;
  if (!options.skipConfirm && options.confirm !== target.database) {
    throw new RestoreRefusedError(
      `Cleanup of "${target.database}"'s restore copies refused: set confirm to the database name ("${target.database}")`,
      { details: { database: target.database } },
    );
  }
  const cutoff = (options.now ?? (() => new Date()))().getTime() - (options.olderThanDays ?? 0) * 86400000;
  const copies = await listRestoreCopies(target);
  const dropped: RestoreCopy[] = [];
  const kept: RestoreCopy[] = [];
  await withClient(
    withDatabaseName(target, 'postgres'),
    async (c) => {
      for (const copy of copies) {
        if (new Date(copy.createdAt).getTime() > cutoff) {
          kept.push(copy);
          continue;
        }
        await c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [copy.name],
        );
        await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(copy.name)}`);
        deps.log.info('restore copy dropped', { database: target.database, copy: copy.name });
        dropped.push(copy);
      }
    },
    'pgshift-restore',
  );
  if (dropped.length > 0) {
    await withClient(target, async (c) => {
      await ensureHistoryTables(c);
      await recordHistoryEvent(c, {
        event: 'cleanup',
        status: 'succeeded',
        executionId: options.executionId,
        details: { dropped: dropped.map((d) => d.name), olderThanDays: options.olderThanDays ?? 0 },
      });
    }).catch((err: unknown) =>
      deps.log.warn('cleanup not recorded in history', { error: errorMessage(err) }),
    );
  }
  return { dropped, kept };
}
