import type { ClientBase } from 'pg';
import { DriftDetectedError, MigrationFileError } from '../shared/errors';
import {
  ensureHistoryTables,
  HISTORY_TABLE,
  historyTablesExist,
  MIGRATIONS_TABLE,
  readAppliedMigrations,
  recordHistoryEvent,
} from '../shared/history';
import { statementsOf } from './files';
import { migrationLockHolder, withMigrationLock } from './lock';
import {
  findInvalidIndexes,
  indexesBuilt,
  recordedInvalidIndexes,
  type InvalidIndex,
} from './runner/invalid-index';
import { findUnfinishedRuns, interruptedMessage } from './runner/interrupted';
import { planMigrations } from './runner/plan';
import type { Migration } from './types';

/** What `verify` found. `ok` is false when something needs a human; the state machine's Choice reads it. */
export interface VerifyStatus {
  ok: boolean;
  /** "error": something is wrong; "warning": pending migrations only; "ok": in sync. */
  severity: 'ok' | 'warning' | 'error';
  serverVersion: string;
  database: string;
  appliedCount: number;
  latestVersion: string | null;
  pending: { version: string; name: string }[];
  missingFiles: { version: string; name: string }[];
  checksumMismatches: { version: string; name: string; applied: string; file: string }[];
  outOfOrder: string[];
  /** Migrations whose latest attempt failed or was interrupted (a no-transaction one may be half-applied). */
  failed: { version: string; name: string; error: string; invalidIndexes: InvalidIndex[] }[];
  invalidIndexes: InvalidIndex[];
  /** Alembic's `alembic_version` rows, for teams arriving from Flask-Migrate; null when the table is absent. */
  alembicVersion: string[] | null;
  /** One sentence per problem, each saying what to do. */
  problems: string[];
}

/** Alembic's current revision(s), or null when the database has no `alembic_version` table. */
export async function readAlembicVersion(client: ClientBase): Promise<string[] | null> {
  const exists = await client.query<{ t: string | null }>("SELECT to_regclass('alembic_version')::text AS t");
  if (!exists.rows[0]?.t) return null;
  const res = await client.query<{ v: string }>(
    'SELECT version_num::text AS v FROM alembic_version ORDER BY 1',
  );
  return res.rows.map((r) => r.v);
}

/** Latest failed attempt per version that is still not applied. */
async function failedAttempts(
  client: ClientBase,
): Promise<{ version: string; name: string; error: string; details: Record<string, unknown> }[]> {
  if (!(await historyTablesExist(client))) return [];
  const res = await client.query<{
    version: string;
    name: string;
    error: string | null;
    details: Record<string, unknown>;
  }>(
    // last.version is bigint; ordering by the text output column would put 100 before 11.
    `SELECT last.version::text AS version, last.name, last.error, last.details FROM (
       SELECT DISTINCT ON (version) version, name, status, error, details
         FROM ${HISTORY_TABLE} WHERE event = 'up' AND version IS NOT NULL ORDER BY version, id DESC) last
      WHERE last.status = 'failed' AND last.version NOT IN (SELECT version FROM ${MIGRATIONS_TABLE})
      ORDER BY last.version`,
  );
  return res.rows.map((r) => ({
    version: r.version,
    name: r.name,
    error: r.error ?? '',
    details: r.details,
  }));
}

/**
 * Compares the database with the folder: server version, pending, applied versions without files, edited files
 * (checksum mismatch), out-of-order versions, failed half-applied migrations and INVALID indexes, Alembic's
 * revision. Read-only; never throws for what it finds (it reports it).
 */
export async function verifyMigrations(client: ClientBase, migrations: Migration[]): Promise<VerifyStatus> {
  const info = await client.query<{ v: string; db: string }>(
    'SELECT current_setting($1) AS v, current_database() AS db',
    ['server_version'],
  );
  const plan = await planMigrations(client, migrations);
  const invalidIndexes = await findInvalidIndexes(client);
  const failed = (await failedAttempts(client)).map((f) => {
    const left = recordedInvalidIndexes(f.details.invalidIndexes).filter((i) =>
      invalidIndexes.some((x) => x.schema === i.schema && x.index === i.index),
    );
    return { version: f.version, name: f.name, error: f.error.slice(0, 500), invalidIndexes: left };
  });
  // A no-transaction migration still 'running' while no run holds the lock: its client died; the next apply
  // records it as failed. Listed with the failed ones (verify writes nothing).
  if (!(await migrationLockHolder(client))) {
    for (const r of await findUnfinishedRuns(client)) {
      const m = migrations.find((x) => x.version === r.version);
      const built = m ? indexesBuilt(statementsOf(m.up, m.file)) : [];
      const left = invalidIndexes.filter((i) => built.some((b) => b.index === i.index));
      failed.push({
        version: r.version,
        name: r.name,
        error: interruptedMessage(r, left),
        invalidIndexes: left,
      });
    }
  }
  const alembicVersion = await readAlembicVersion(client);
  const problems: string[] = [];
  for (const c of plan.checksumMismatches) {
    problems.push(
      `migration ${c.version} ${c.name} was edited after it was applied (sha256 ${c.applied.slice(0, 12)}… applied, ${c.file.slice(0, 12)}… on disk): restore the original file and put the change in a new migration`,
    );
  }
  for (const m of plan.missingFiles)
    problems.push(`version ${m.version} (${m.name}) is applied but its file is missing from the folder`);
  for (const v of plan.outOfOrder)
    problems.push(
      `pending migration ${v} is older than the latest applied version: renumber it after the latest`,
    );
  for (const f of failed) {
    problems.push(
      `migration ${f.version} ${f.name} ${f.error.includes('was interrupted') ? 'was interrupted last time (its client died)' : 'failed last time'}` +
        (f.invalidIndexes.length > 0
          ? ` and left INVALID index(es): run ${f.invalidIndexes.map((i) => i.fix).join(' ')} then apply again`
          : ': fix the cause and apply again'),
    );
  }
  const reported = new Set(failed.flatMap((f) => f.invalidIndexes.map((i) => `${i.schema}.${i.index}`)));
  for (const i of invalidIndexes.filter((x) => !reported.has(`${x.schema}.${x.index}`))) {
    problems.push(
      `index ${i.schema}.${i.index} on ${i.table} is INVALID (a failed concurrent build?): run ${i.fix} and rebuild it`,
    );
  }
  const error = problems.length > 0;
  const latest = plan.applied.at(-1)?.version ?? null;
  return {
    ok: !error,
    severity: error ? 'error' : plan.pending.length > 0 ? 'warning' : 'ok',
    serverVersion: info.rows[0]?.v ?? '',
    database: info.rows[0]?.db ?? '',
    appliedCount: plan.applied.length,
    latestVersion: latest,
    pending: plan.pending.map((m) => ({ version: m.version, name: m.name })),
    missingFiles: plan.missingFiles,
    checksumMismatches: plan.checksumMismatches,
    outOfOrder: plan.outOfOrder,
    failed,
    invalidIndexes,
    alembicVersion,
    problems,
  };
}

export interface BaselineOptions {
  /** The version the database already is at: every migration file up to it is marked applied. */
  toVersion: string;
  executionId: string;
}

export interface BaselineResult {
  version: string;
  marked: { version: string; name: string }[];
  alembicVersion: string[] | null;
}

/**
 * Marks an existing database (created by hand, Alembic, Flyway...) as being at `toVersion` without running
 * anything: each file up to it gets a `baseline` row with its checksum. Refuses a database pgshift already
 * migrated, and a version with no file.
 */
export async function baselineDatabase(
  client: ClientBase,
  migrations: Migration[],
  options: BaselineOptions,
): Promise<BaselineResult> {
  const target = BigInt(options.toVersion);
  if (!migrations.some((m) => BigInt(m.version) === target)) {
    throw new MigrationFileError(`baseline: there is no migration file with version ${options.toVersion}`, {
      details: { toVersion: options.toVersion },
    });
  }
  return withMigrationLock(client, async () => {
    await ensureHistoryTables(client);
    const applied = await readAppliedMigrations(client);
    if (applied.length > 0) {
      throw new DriftDetectedError(
        `baseline: this database already has ${applied.length} applied migration(s) (latest ${applied.at(-1)?.version ?? ''}); baseline is for a database pgshift has not migrated yet`,
      );
    }
    const marked = migrations.filter((m) => BigInt(m.version) <= target);
    const alembicVersion = await readAlembicVersion(client);
    await client.query('BEGIN');
    try {
      for (const m of marked) {
        await client.query(
          `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, duration_ms, applied_by, direction)
           VALUES ($1, $2, $3, 0, $4, 'baseline')`,
          [m.version, m.name, m.checksum, options.executionId],
        );
      }
      await recordHistoryEvent(client, {
        event: 'baseline',
        status: 'succeeded',
        executionId: options.executionId,
        version: options.toVersion,
        details: { marked: marked.map((m) => m.version), alembicVersion },
      });
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
    return {
      version: BigInt(options.toVersion).toString(),
      marked: marked.map((m) => ({ version: m.version, name: m.name })),
      alembicVersion,
    };
  });
}
