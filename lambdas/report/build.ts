import type { ClientBase } from 'pg';
import { quoteIdent } from '../shared/db';
import { PgshiftError, ReportFailedError } from '../shared/errors';
import { DEFAULT_BACKUP_PREFIX } from '../shared/keys';
import {
  historyTablesExist,
  readAppliedMigrations,
  readHistory,
  type AppliedMigration,
  type HistoryRow,
} from '../shared/history';
import type { Log } from '../shared/logger';
import { listBackups } from '../shared/manifest';
import type { ObjectStore } from '../shared/s3';
import type { StepResults } from '../shared/step';
import type { DriftResult, SchemaDiff } from '../schema';
import { LOCK_FREE_SIZES_SQL, setLocalLockTimeout } from '../schema/sizes';
import { summarizeRun, type RunSummary } from './run';

export interface TableReport {
  schema: string;
  name: string;
  /** Qualified as PostgreSQL quotes it. */
  qualifiedName: string;
  kind: 'table' | 'partitioned table' | 'materialized view';
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  toastBytes: number;
  /** Sizes from relpages because another session holds ACCESS EXCLUSIVE on the table (see LOCK_FREE_SIZES_SQL). */
  sizeEstimated: boolean;
  /** `reltuples`; null when the table was never analyzed. */
  estimatedRows: number | null;
  /**
   * `count(*)`, only for tables under `exactCountMaxBytes` that can be read: null for an unpopulated
   * materialized view, a table the report's role may not SELECT, or one locked by someone else.
   */
  exactRows: number | null;
  liveTuples: number;
  deadTuples: number;
  lastVacuum: string | null;
  lastAutovacuum: string | null;
  lastAnalyze: string | null;
  lastAutoanalyze: string | null;
}

export interface DatabaseReport {
  formatVersion: 1;
  generatedAt: string;
  database: string;
  server: {
    version: string;
    versionNum: number;
    databaseSizeBytes: number;
    maxConnections: number;
    reservedConnections: number;
    connections: { total: number; byState: Record<string, number> };
  };
  /** Largest first; at most `maxTables` (the total says how many there are). */
  tables: TableReport[];
  tableCount: number;
  migrations: {
    /** False when pgshift never ran here (its tables do not exist). */
    tracked: boolean;
    applied: AppliedMigration[];
    history: HistoryRow[];
    /** Alembic's `alembic_version` (databases arriving from Flask-Migrate), when present. */
    alembic: { table: string; versions: string[] } | null;
  };
  backups: { key: string; finishedAt: string; sizeBytes: number; compression: string; reason?: string }[];
  locks: {
    pid: number;
    relation: string | null;
    lockType: string;
    mode: string;
    granted: boolean;
    state: string | null;
    waitingSeconds: number | null;
  }[];
  longRunningQueries: {
    pid: number;
    user: string | null;
    application: string | null;
    state: string | null;
    durationSeconds: number;
    query: string;
  }[];
  thresholds: { longQuerySeconds: number; exactCountMaxBytes: number };
  run: RunSummary;
  diff: SchemaDiff | null;
  drift: Pick<DriftResult, 'ok' | 'checked' | 'counts' | 'summary'> | null;
}

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

const EXCLUDED = ['pg_catalog', 'information_schema'];

function iso(v: unknown): string | null {
  return v ? new Date(v as string).toISOString() : null;
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
  const maxTables = o.maxTables ?? 200;
  const redact = o.redact ?? ((t: string) => t);

  const server = (
    await client.query(`
      SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
             pg_database_size(current_database()) AS size, current_setting('max_connections')::int AS max_conn,
             current_setting('superuser_reserved_connections')::int AS reserved`)
  ).rows[0];
  const connRows = (
    await client.query(`
      SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
       WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1`)
  ).rows as { state: string; n: number }[];
  const byState = Object.fromEntries(connRows.map((r) => [r.state, r.n]));

  await client.query('BEGIN READ ONLY');
  let tableRows: Record<string, unknown>[];
  try {
    await setLocalLockTimeout(client, 5000);
    tableRows = (
      await client.query(
        `SELECT n.nspname, c.relname, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname, c.relkind,
                coalesce(sz.total_bytes, sz.main_bytes + sz.index_bytes + sz.toast_bytes) AS total, sz.main_bytes AS main,
                sz.index_bytes AS idx, sz.toast_bytes AS toast, sz.size_estimated,
                c.reltuples, c.relispopulated, has_table_privilege(c.oid, 'SELECT') AS readable, s.n_live_tup, s.n_dead_tup, s.last_vacuum, s.last_autovacuum, s.last_analyze,
                s.last_autoanalyze
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           JOIN (${LOCK_FREE_SIZES_SQL}) sz ON sz.oid = c.oid
           LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
          WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> ALL ($1::text[]) AND n.nspname NOT LIKE 'pg\\_toast%'
            AND n.nspname NOT LIKE 'pg\\_temp\\_%'
          ORDER BY 5 DESC, 3`,
        [EXCLUDED],
      )
    ).rows as Record<string, unknown>[];
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
  const tables: TableReport[] = [];
  for (const r of tableRows.slice(0, maxTables)) {
    const total = Number(r.total);
    const reltuples = Number(r.reltuples);
    let exactRows: number | null = null;
    // count(*) reads the relation: an unpopulated materialized view (WITH NO DATA, refreshed by a job) raises
    // 55000 and a table without SELECT raises 42501. Those get the catalog's estimate only.
    const countable =
      r.relkind !== 'p' && r.size_estimated !== true && r.relispopulated === true && r.readable === true;
    if (total <= exactCountMaxBytes && countable) {
      exactRows = await exactCount(
        client,
        r.nspname as string,
        r.relname as string,
        o.countLockTimeoutMs ?? 1000,
      );
    }
    tables.push({
      schema: r.nspname as string,
      name: r.relname as string,
      qualifiedName: r.qname as string,
      kind: r.relkind === 'p' ? 'partitioned table' : r.relkind === 'm' ? 'materialized view' : 'table',
      totalBytes: total,
      tableBytes: Number(r.main),
      indexBytes: Number(r.idx),
      toastBytes: Number(r.toast),
      sizeEstimated: r.size_estimated === true,
      estimatedRows: reltuples < 0 ? null : reltuples,
      exactRows,
      liveTuples: Number(r.n_live_tup ?? 0),
      deadTuples: Number(r.n_dead_tup ?? 0),
      lastVacuum: iso(r.last_vacuum),
      lastAutovacuum: iso(r.last_autovacuum),
      lastAnalyze: iso(r.last_analyze),
      lastAutoanalyze: iso(r.last_autoanalyze),
    });
  }

  const tracked = await historyTablesExist(client);
  const [applied, history] = tracked
    ? await Promise.all([readAppliedMigrations(client), readHistory(client, o.maxHistory ?? 100)])
    : [[], []];
  const alembic = await readAlembicVersion(client);

  const locks = (
    await client.query(`
      SELECT l.pid, CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation, l.locktype,
             l.mode, l.granted, a.state,
             CASE WHEN NOT l.granted THEN extract(epoch FROM now() - a.state_change)::float8 END AS waiting
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.pid <> pg_backend_pid() AND (l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
             OR l.locktype NOT IN ('relation', 'object'))
         AND l.locktype <> 'virtualxid'
       ORDER BY l.granted, l.pid, 2 NULLS LAST
       LIMIT 100`)
  ).rows.map((r) => ({
    pid: Number(r.pid),
    relation: r.relation as string | null,
    lockType: r.locktype as string,
    mode: r.mode as string,
    granted: r.granted as boolean,
    state: r.state as string | null,
    waitingSeconds: r.waiting === null ? null : Math.round(Number(r.waiting)),
  }));

  const longRunningQueries = (
    await client.query(
      `SELECT pid, usename, application_name, state,
              extract(epoch FROM now() - coalesce(xact_start, query_start))::float8 AS seconds, left(query, 500) AS query
         FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
          AND state IS DISTINCT FROM 'idle'
          AND now() - coalesce(xact_start, query_start) > make_interval(secs => $1)
        ORDER BY seconds DESC LIMIT 50`,
      [longQuerySeconds],
    )
  ).rows.map((r) => ({
    pid: Number(r.pid),
    user: r.usename as string | null,
    application: r.application_name as string | null,
    state: r.state as string | null,
    durationSeconds: Math.round(Number(r.seconds)),
    query: redact(String(r.query ?? '')),
  }));

  let backups: DatabaseReport['backups'] = [];
  if (deps.store) {
    backups = (await listBackups(deps.store, o.database, o.backupPrefix ?? DEFAULT_BACKUP_PREFIX))
      .slice(0, 50)
      .map((m) => ({
        key: m.key,
        finishedAt: m.finishedAt,
        sizeBytes: m.sizeBytes,
        compression: m.compression,
        reason: m.reason,
      }));
  }

  const report: DatabaseReport = {
    formatVersion: 1,
    generatedAt: (o.now ?? (() => new Date()))().toISOString(),
    database: o.database,
    server: {
      version: server.version,
      versionNum: Number(server.num),
      databaseSizeBytes: Number(server.size),
      maxConnections: Number(server.max_conn),
      reservedConnections: Number(server.reserved),
      connections: { total: connRows.reduce((s, r) => s + r.n, 0), byState },
    },
    tables,
    tableCount: tableRows.length,
    migrations: { tracked, applied, history, alembic },
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

/** `count(*)` with a lock timeout, so a locked table costs a second, not the report; null when it timed out. */
async function exactCount(
  client: ClientBase,
  schema: string,
  table: string,
  lockTimeoutMs: number,
): Promise<number | null> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(
      `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', '60s', true)`,
      [`${lockTimeoutMs}ms`],
    );
    const res = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`,
    );
    await client.query('COMMIT');
    return Number(res.rows[0].n);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const code = (err as { code?: string }).code;
    // 55P03 lock_not_available, 57014 query_canceled (statement timeout)
    if (code === '55P03' || code === '57014') return null;
    throw err;
  }
}

/** Alembic's version table, wherever it sits (Flask-Migrate puts it in the default schema). */
async function readAlembicVersion(client: ClientBase): Promise<DatabaseReport['migrations']['alembic']> {
  const found = await client.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = 'alembic_version' AND c.relkind IN ('r', 'p') AND n.nspname <> ALL ($1::text[])
      ORDER BY n.nspname = 'public' DESC, n.nspname LIMIT 1`,
    [EXCLUDED],
  );
  if (found.rows.length === 0) return null;
  const table = `${quoteIdent(found.rows[0].nspname)}.${quoteIdent('alembic_version')}`;
  const rows = await client.query<{ v: string }>(`SELECT version_num::text AS v FROM ${table} ORDER BY 1`);
  return { table, versions: rows.rows.map((r) => r.v) };
}

/**
 * A report failure as a typed error naming the database and what the server or S3 said. pgshift's own errors
 * (a refused connection, a lock timeout) keep their names.
 */
export function reportFailure(err: unknown, database: string): PgshiftError {
  if (err instanceof PgshiftError) return err;
  const e = err as { message?: string; code?: string; name?: string; Code?: string };
  const code = e.code ? ` (SQLSTATE ${e.code})` : e.Code ? ` (S3 ${e.Code})` : '';
  return new ReportFailedError(
    `The report on database "${database}" could not be written: ${e.message ?? String(err)}${code}. ` +
      'Nothing the run did before the report (backup, migrations, restore) is affected. Fix the cause and run ' +
      '"pgshift report" to write it again.',
    { cause: err, details: { database, ...(e.code ? { sqlState: e.code } : {}) } },
  );
}
