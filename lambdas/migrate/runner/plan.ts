/** The plan stage: where the database stands against the folder, and the dry run built on it. */
import type { ClientBase } from 'pg';
import { readAppliedMigrations, type AppliedMigration } from '../../shared/history';
import type { TimeoutOptions } from '../framing';
import { lintMigrations, type LintOptions, type LintResult } from '../lint';
import { planScript, renderPlanSql, type PlannedScript } from '../plan-sql';
import { ensureParser } from '../statements';
import type { Migration } from '../types';

/** Where the database stands against the folder. */
export interface MigrationPlan {
  applied: AppliedMigration[];
  /** Files not applied yet, in version order. */
  pending: Migration[];
  /** Pending versions lower than the highest applied one (a branch merged late). */
  outOfOrder: string[];
  /** Applied versions whose file changed since (sha256 differs). */
  checksumMismatches: { version: string; name: string; applied: string; file: string }[];
  /** Applied versions with no file in the folder. */
  missingFiles: { version: string; name: string }[];
}

/** Compares the applied set with the files. Read-only: never creates pgshift's tables. */
export async function planMigrations(client: ClientBase, migrations: Migration[]): Promise<MigrationPlan> {
  const applied = await readAppliedMigrations(client);
  const files = new Map(migrations.map((m) => [m.version, m]));
  const appliedVersions = new Set(applied.map((a) => a.version));
  const maxApplied = applied.reduce((max, a) => (BigInt(a.version) > max ? BigInt(a.version) : max), -1n);
  const pending = migrations.filter((m) => !appliedVersions.has(m.version));
  return {
    applied,
    pending,
    outOfOrder: pending.filter((m) => BigInt(m.version) < maxApplied).map((m) => m.version),
    checksumMismatches: applied
      .filter((a) => files.has(a.version) && files.get(a.version)?.checksum !== a.checksum)
      .map((a) => ({
        version: a.version,
        name: a.name,
        applied: a.checksum,
        file: files.get(a.version)?.checksum ?? '',
      })),
    missingFiles: applied
      .filter((a) => !files.has(a.version))
      .map((a) => ({ version: a.version, name: a.name })),
  };
}

export interface DryRunResult {
  plan: MigrationPlan;
  /** The exact SQL that `applyMigrations` would run, in order. */
  sql: string;
  /** The same, per migration and statement (for annotated output: findings beside their statement). */
  scripts: PlannedScript[];
  lint: LintResult;
  /** Error-level findings and `allowUnsafe` not set. */
  blocking: boolean;
}

export interface DryRunOptions extends TimeoutOptions {
  singleTransaction?: boolean;
  allowUnsafe?: boolean;
  lint?: Omit<LintOptions, 'client'>;
}

/** The lint of the pending migrations, with the run's timeouts (apply and the dry run lint alike). */
export function lintPending(
  client: ClientBase,
  pending: Migration[],
  options: TimeoutOptions & { lint?: Omit<LintOptions, 'client'> },
): Promise<LintResult> {
  return lintMigrations(pending, {
    ...options.lint,
    client,
    lockTimeout: options.lockTimeout,
    statementTimeout: options.statementTimeout,
  });
}

/** The SQL `apply` would run plus the lint findings; changes nothing (not even pgshift's own tables). */
export async function dryRun(
  client: ClientBase,
  migrations: Migration[],
  options: DryRunOptions = {},
): Promise<DryRunResult> {
  await ensureParser();
  const plan = await planMigrations(client, migrations);
  const lint = await lintPending(client, plan.pending, options);
  const framing = options.singleTransaction ? 'outer-transaction' : 'own-transaction';
  const scripts = plan.pending.map((m) => planScript(m, m.up, 'up', options, framing));
  const sql = renderPlanSql('dry-run', scripts, { singleTransaction: options.singleTransaction });
  return { plan, sql, scripts, lint, blocking: lint.errors > 0 && !options.allowUnsafe };
}
