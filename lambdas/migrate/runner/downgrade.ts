/** The downgrade stage: which applied migrations to revert (refused whole when one cannot be), then each down script. */
import type { ClientBase } from 'pg';
import { MigrationFileError } from '../../shared/errors';
import {
  compareVersions,
  ensureHistoryTables,
  HISTORY_TABLE,
  historyTablesExist,
  readAppliedMigrations,
} from '../../shared/history';
import { silentLogger, type Log } from '../../shared/logger';
import { assertFitsBudget, type TimeBudget } from '../budget';
import type { TimeoutOptions } from '../framing';
import { withMigrationLock } from '../lock';
import { planScript, renderPlanSql, type PlannedScript } from '../plan-sql';
import { ensureParser } from '../statements';
import type { Migration, MigrationScript, ProgressCallback } from '../types';
import { runScript } from './run-script';

export interface DowngradeOptions extends TimeoutOptions {
  executionId: string;
  /** Revert this many applied migrations (newest first). @default 1 when toVersion is absent */
  steps?: number;
  /** Revert every applied migration above this version (it stays applied). */
  toVersion?: string;
  /** Return the SQL only; change nothing. */
  dryRun?: boolean;
  log?: Log;
  onProgress?: ProgressCallback;
  /** As ApplyOptions.budget. @default none */
  budget?: TimeBudget;
  /**
   * `steps` counts the reverts this execution id already recorded (the state machine: a downgrade that Lambda's
   * time budget stopped continues on Fargate without reverting more than asked). @default false
   */
  stepsIncludeEarlierReverts?: boolean;
}

export interface DowngradeResult {
  /** Reverted (or, in a dry run, to be reverted), newest first. */
  reverted: { version: string; name: string; durationMs?: number }[];
  sql: string;
  /** The same SQL per migration and statement. */
  scripts: PlannedScript[];
  dryRun: boolean;
}

/** A migration chosen for revert, with the down script it has. */
type Revert = Migration & { down: MigrationScript };

/** Successful reverts recorded under this execution id. */
async function revertsBy(client: ClientBase, executionId: string): Promise<number> {
  if (!(await historyTablesExist(client))) return 0;
  const res = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${HISTORY_TABLE} WHERE event = 'down' AND status = 'succeeded' AND execution_id = $1`,
    [executionId],
  );
  return Number(res.rows[0]?.n ?? 0);
}

/** The applied migrations to revert, newest first; refused whole when one has no file, no down or drifted. */
async function chooseReverts(
  client: ClientBase,
  migrations: Migration[],
  options: DowngradeOptions,
): Promise<Revert[]> {
  const files = new Map(migrations.map((m) => [m.version, m]));
  const applied = (await readAppliedMigrations(client)).sort((a, b) => compareVersions(b.version, a.version));
  const { toVersion, steps } = options;
  if (toVersion !== undefined && steps !== undefined) {
    throw new MigrationFileError('downgrade: give either steps or toVersion, not both');
  }
  const earlier = options.stepsIncludeEarlierReverts ? await revertsBy(client, options.executionId) : 0;
  const targets =
    toVersion !== undefined
      ? applied.filter((a) => BigInt(a.version) > BigInt(toVersion))
      : applied.slice(0, Math.max(0, (steps ?? 1) - earlier));
  const problems: string[] = [];
  const reverts: Revert[] = [];
  for (const a of targets) {
    const m = files.get(a.version);
    if (!m) problems.push(`version ${a.version} (${a.name}) has no migration file`);
    else if (!m.down) problems.push(`${m.file} has no down migration`);
    else if (m.checksum !== a.checksum)
      problems.push(`${m.file} changed since it was applied (checksum differs)`);
    else reverts.push({ ...m, down: m.down });
  }
  if (problems.length > 0) {
    throw new MigrationFileError(`Cannot downgrade: ${problems.join('; ')}. Nothing was reverted.`, {
      details: { problems },
    });
  }
  return reverts;
}

function plannedReverts(targets: Revert[], options: TimeoutOptions): PlannedScript[] {
  return targets.map((m) => planScript(m, m.down, 'down', options));
}

/** Reverts applied migrations with their down scripts; refuses before touching anything if one is missing. */
export async function downgradeMigrations(
  client: ClientBase,
  migrations: Migration[],
  options: DowngradeOptions,
): Promise<DowngradeResult> {
  const log = options.log ?? silentLogger;
  await ensureParser();
  if (options.dryRun) {
    const targets = await chooseReverts(client, migrations, options);
    const scripts = plannedReverts(targets, options);
    return {
      reverted: targets.map((m) => ({ version: m.version, name: m.name })),
      sql: renderPlanSql('downgrade', scripts),
      scripts,
      dryRun: true,
    };
  }
  return withMigrationLock(client, async () => {
    await ensureHistoryTables(client);
    const targets = await chooseReverts(client, migrations, options);
    const reverted: DowngradeResult['reverted'] = [];
    for (const [i, m] of targets.entries()) {
      assertFitsBudget(options.budget, 'revert', reverted, targets.slice(i));
      options.onProgress?.({ index: i + 1, total: targets.length, version: m.version, name: m.name });
      log.info('reverting migration', { version: m.version, name: m.name });
      const started = Date.now();
      await runScript(client, m, m.down, { ...options, direction: 'down', framing: 'own-transaction' });
      reverted.push({ version: m.version, name: m.name, durationMs: Date.now() - started });
    }
    const scripts = plannedReverts(targets, options);
    return { reverted, sql: renderPlanSql('downgrade', scripts), scripts, dryRun: false };
  });
}
