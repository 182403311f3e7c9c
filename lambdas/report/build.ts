import type { ClientBase } from 'pg';
import { PgshiftError, ReportFailedError, errorCode, errorMessage } from '../shared/errors';
import { DEFAULT_BACKUP_PREFIX } from '../shared/keys';
import type { Log } from '../shared/logger';
import { listBackups } from '../shared/manifest';
import type { ObjectStore } from '../shared/s3';
import type { StepResults } from '../shared/step';
import type { DriftResult, SchemaDiff } from '../schema';
import { readLocks, readLongRunningQueries, readServer } from './activity';
import { readMigrations } from './migrations';
import type { DatabaseReport } from './model';
import { summarizeRun } from './run';
import { readTables } from './tables';

export type { DatabaseReport, TableReport } from './model';

export interface BuildReportDeps {
  client: ClientBase;
  /** Where the backup manifests are; without it the report lists no backups. */
  store?: ObjectStore;
  log: Log;
}

export interface BuildReportOptions {
  database: string;
  backupPrefix?: string;
  /** Earlier steps' outputs of this execution, shown as the run's summary. */
  results?: StepResults;
  /** The schema diff of this execution (read from `results.diff.written.json`). */
  diff?: SchemaDiff | null;
  drift?: DriftResult | null;
  /** Queries running longer than this are listed. @default 60 */
  longQuerySeconds?: number;
  /** Tables up to this size get an exact `count(*)`. @default 50 MiB */
  exactCountMaxBytes?: number;
  /**
   * How long an exact count waits for its table's lock; a table locked by someone else (a migration holding
   * ACCESS EXCLUSIVE) gets no exact count rather than a report that hangs. @default 1000
   */
  countLockTimeoutMs?: number;
  /** Tables listed, largest first. @default 200 */
  maxTables?: number;
  /** History rows listed. @default 100 */
  maxHistory?: number;
  /** Removes secrets from text taken from the server (query texts). */
  redact?: (text: string) => string;
  now?: () => Date;
}

/** The latest 50 backups from their manifests (an unsound one is left out); none without a store. */
async function readBackups(
  store: ObjectStore | undefined,
  database: string,
  prefix: string,
): Promise<DatabaseReport['backups']> {
  if (!store) return [];
  return (await listBackups(store, database, prefix, { newest: 50 })).map((m) => ({
    key: m.key,
    finishedAt: m.finishedAt,
    sizeBytes: m.sizeBytes,
    compression: m.compression,
    reason: m.reason,
  }));
}

/**
 * Gathers the database report: server, sizes, per-table stats with exact counts for small tables, migration
 * status and history, backups from their manifests, locks, long-running queries, connections. Read-only: it
 * never creates pgshift's tables on a database pgshift has not touched.
 */
export async function buildReport(deps: BuildReportDeps, o: BuildReportOptions): Promise<DatabaseReport> {
  const { client } = deps;
  const longQuerySeconds = o.longQuerySeconds ?? 60;
  const exactCountMaxBytes = o.exactCountMaxBytes ?? 50 * 1024 * 1024;
  const server = await readServer(client);
  const { tables, tableCount } = await readTables(client, {
    maxTables: o.maxTables ?? 200,
    exactCountMaxBytes,
    countLockTimeoutMs: o.countLockTimeoutMs ?? 1000,
  });
  const migrations = await readMigrations(client, o.maxHistory ?? 100);
  const locks = await readLocks(client);
  const longRunningQueries = await readLongRunningQueries(client, longQuerySeconds, o.redact ?? ((t) => t));
  const backups = await readBackups(deps.store, o.database, o.backupPrefix ?? DEFAULT_BACKUP_PREFIX);
  const report: DatabaseReport = {
    formatVersion: 1,
    generatedAt: (o.now ?? (() => new Date()))().toISOString(),
    database: o.database,
    server,
    tables,
    tableCount,
    migrations,
    backups,
    locks,
    longRunningQueries,
    thresholds: { longQuerySeconds, exactCountMaxBytes },
    run: summarizeRun(o.results ?? {}),
    diff: o.diff ?? null,
    drift: o.drift
      ? { ok: o.drift.ok, checked: o.drift.checked, counts: o.drift.counts, summary: o.drift.summary }
      : null,
  };
  deps.log.info('report built', { database: o.database, tables: tables.length, backups: backups.length });
  return report;
}

/**
 * A report failure as a typed error naming the database and what the server or S3 said. pgshift's own errors
 * (a refused connection, a lock timeout) keep their names.
 */
export function reportFailure(err: unknown, database: string): PgshiftError {
  if (err instanceof PgshiftError) return err;
  const sqlCode = errorCode(err);
  const s3Code = s3ErrorCode(err);
  const code = sqlCode ? ` (SQLSTATE ${sqlCode})` : s3Code ? ` (S3 ${s3Code})` : '';
  return new ReportFailedError(
    `The report on database "${database}" could not be written: ${errorMessage(err)}${code}. ` +
      'Nothing the run did before the report (backup, migrations, restore) is affected. Fix the cause and run ' +
      '"pgshift report" to write it again.',
    { cause: err, details: { database, ...(sqlCode ? { sqlState: sqlCode } : {}) } },
  );
}

/** The `Code` an S3 error response carries (the SDK's modelled errors), if any. */
function s3ErrorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'Code' in err && typeof err.Code === 'string')
    return err.Code;
  return undefined;
}
