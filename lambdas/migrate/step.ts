import type { ClientBase } from 'pg';
import { databaseSizeBytes, withClient, type DatabaseTarget } from '../shared/db';
import { DatabaseConnectionError, InputValidationError } from '../shared/errors';
import { setBundleForSession } from '../shared/history';
import type { ExecutionInput } from '../shared/input';
import { planKeys } from '../shared/keys';
import type { Log } from '../shared/logger';
import { reportProgress } from '../shared/progress';
import { putJson, putText, type ObjectStore } from '../shared/s3';
import type { MigrateOutput, PlanOutput, VerifyOutput } from '../shared/step';
import { executionName } from '../shared/step-context';
import type { TimeBudget } from './budget';
import {
  applyMigrations,
  baselineDatabase,
  checksumOf,
  downgradeMigrations,
  dryRun,
  verifyMigrations,
  type LintOptions,
  type Migration,
  type MigrationSource,
  type ProgressCallback,
} from './index';

/**
 * The migrate step's core, without Lambda: one operation against the database, the plan's and downgrade's SQL
 * written to S3, the output shaped for the workflow. The handler parses the event and supplies what it reads
 * from the environment and the invocation.
 */
export const MIGRATE_OPERATIONS = ['plan', 'apply', 'downgrade', 'verify', 'baseline'] as const;
export type MigrateOperation = (typeof MIGRATE_OPERATIONS)[number];

export interface MigrateStepDeps {
  store: ObjectStore;
  log: Log;
}

export interface MigrateStepRequest {
  operation: MigrateOperation;
  /** The logical database name (S3 keys, outputs). */
  database: string;
  target: DatabaseTarget;
  migrations: Migration[];
  source: MigrationSource;
  /** Which runner this is (the Fargate states say so in params): the report and the tests read it. */
  runner: 'lambda' | 'fargate';
  execution: { id: string; name?: string };
  input: ExecutionInput;
  timeouts: { lockTimeout: string; statementTimeout: string };
  lint: Omit<LintOptions, 'client'>;
  /** Lambda's deadline for apply/downgrade; undefined on Fargate. */
  budget?: TimeBudget;
}

/** A key segment for this execution: its name, or the last part of its id. */
function executionSegment(execution: MigrateStepRequest['execution']): string {
  return (
    executionName(execution)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 80) || 'execution'
  );
}

/** "migration N of M" for the CLI's progress line (no-op in Lambda). */
function migrationProgress(verb: string): ProgressCallback {
  return ({ index, total, version, name }) =>
    reportProgress({
      step: 'migrate',
      done: index,
      total,
      message: `${verb} migration ${index} of ${total}: ${version}_${name}`,
    });
}

/** Where the SQL written to S3 is, its size and sha256 (the CLI fetches it and checks the hash). */
function sqlObject(
  store: ObjectStore,
  key: string,
  sql: string,
): { bucket: string; key: string; bytes: number; sha256: string } {
  return { bucket: store.bucket, key, bytes: Buffer.byteLength(sql, 'utf8'), sha256: checksumOf(sql) };
}

/** At most `max` items, and a flag saying the list was cut (outputs stay far below Step Functions' 256 KB). */
function capped<T>(items: T[], max: number): { items: T[]; truncated: boolean } {
  return { items: items.slice(0, max), truncated: items.length > max };
}

/** A pending migration as the plan shows it, saying when it runs outside a transaction and why, or is empty. */
function pendingEntry(m: Migration): NonNullable<PlanOutput['pending']>[number] {
  return {
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    ...(m.up.noTransaction ? { noTransaction: m.up.noTransactionReason ?? true } : {}),
    ...(m.up.empty ? { empty: true } : {}),
  };
}

type Base = Pick<MigrateStepRequest, 'operation' | 'database' | 'runner'> & {
  step: string;
  migrations: MigrationSource;
};

/** verify: a connection failure is an answer (connection.ok false), not an error. */
async function verify(req: MigrateStepRequest, base: Base): Promise<VerifyOutput> {
  try {
    const status = await withClient(
      req.target,
      (client) => verifyMigrations(client, req.migrations),
      'pgshift-migrate',
    );
    return {
      ...base,
      ...status,
      pending: capped(status.pending, 50).items,
      problems: capped(status.problems, 30).items,
      failed: capped(status.failed, 10).items,
      invalidIndexes: capped(status.invalidIndexes, 20).items,
      connection: { ok: true },
    };
  } catch (err) {
    if (!(err instanceof DatabaseConnectionError)) throw err;
    return {
      ...base,
      ok: false,
      severity: 'error',
      connection: { ok: false, error: err.message },
      problems: [err.message],
    };
  }
}

/** plan: read-only; the SQL and the findings go to S3, the output carries what pre-flight and the CLI need. */
async function plan(
  deps: MigrateStepDeps,
  req: MigrateStepRequest,
  base: Base,
  client: ClientBase,
): Promise<PlanOutput> {
  const { store } = deps;
  const result = await dryRun(client, req.migrations, {
    ...req.timeouts,
    allowUnsafe: req.input.allowUnsafe === true,
    lint: req.lint,
  });
  const sizeBytes = await databaseSizeBytes(client);
  const keys = planKeys(req.database, executionSegment(req.execution));
  await putText(store, keys.sql, result.sql, 'application/sql; charset=utf-8');
  await putJson(store, keys.json, {
    database: req.database,
    executionId: req.execution.id,
    migrations: req.source,
    pending: result.plan.pending.map(pendingEntry),
    lint: {
      errors: result.lint.errors,
      warnings: result.lint.warnings,
      measured: result.lint.measured,
    },
    findings: result.lint.findings,
    allowed: result.lint.allowed,
    analyses: result.lint.analyses,
    // plan.sql per migration and statement: the CLI prints findings and locks beside their statement.
    scripts: result.scripts,
  });
  return {
    ...base,
    step: 'plan',
    ok: true,
    pending: capped(result.plan.pending, 100).items.map(pendingEntry),
    pendingCount: result.plan.pending.length,
    outOfOrder: result.plan.outOfOrder,
    checksumMismatches: result.plan.checksumMismatches.length,
    lint: { errors: result.lint.errors, warnings: result.lint.warnings },
    findings: capped(result.lint.findings, 30).items,
    allowed: capped(result.lint.allowed, 20).items,
    // All of them: pre-flight judges each. Over the state's budget they go to S3 (shared/step-budget.ts).
    analyses: result.lint.analyses,
    blocking: result.blocking,
    databaseSizeBytes: sizeBytes,
    written: { sql: keys.sql, findings: keys.json },
    // The SQL stays in S3 (outputs have a budget); its size and hash let a reader check what they fetch.
    sql: sqlObject(store, keys.sql, result.sql),
  };
}

async function apply(
  deps: MigrateStepDeps,
  req: MigrateStepRequest,
  base: Base,
  client: ClientBase,
): Promise<MigrateOutput> {
  const result = await applyMigrations(client, req.migrations, {
    ...req.timeouts,
    executionId: req.execution.id,
    allowUnsafe: req.input.allowUnsafe === true,
    lint: req.lint,
    log: deps.log,
    onProgress: migrationProgress('applying'),
    budget: req.budget,
  });
  return {
    ...base,
    ok: true,
    applied: capped(result.applied, 100).items,
    appliedCount: result.applied.length,
    alreadyApplied: result.alreadyApplied,
    lint: result.lint,
  };
}

async function downgrade(
  deps: MigrateStepDeps,
  req: MigrateStepRequest,
  base: Base,
  client: ClientBase,
): Promise<MigrateOutput> {
  const { store } = deps;
  const result = await downgradeMigrations(client, req.migrations, {
    ...req.timeouts,
    executionId: req.execution.id,
    steps: req.input.steps,
    toVersion: req.input.toVersion,
    dryRun: req.input.dryRun === true,
    log: deps.log,
    onProgress: migrationProgress('reverting'),
    budget: req.budget,
    // Execution ids are unique: a downgrade continued on Fargate never reverts more than `steps`.
    stepsIncludeEarlierReverts: true,
  });
  const keys = planKeys(req.database, executionSegment(req.execution));
  await putText(store, keys.downgradeSql, result.sql, 'application/sql; charset=utf-8');
  return {
    ...base,
    ok: true,
    dryRun: result.dryRun,
    reverted: capped(result.reverted, 100).items,
    revertedCount: result.reverted.length,
    written: { sql: keys.downgradeSql },
    // As the plan's: the SQL stays in S3, the output says where and what it hashes to.
    sql: sqlObject(store, keys.downgradeSql, result.sql),
  };
}

async function baseline(req: MigrateStepRequest, base: Base, client: ClientBase): Promise<MigrateOutput> {
  if (!req.input.toVersion) throw new InputValidationError(['toVersion: required for action "baseline"']);
  const result = await baselineDatabase(client, req.migrations, {
    toVersion: req.input.toVersion,
    executionId: req.execution.id,
  });
  return {
    ...base,
    ok: true,
    version: result.version,
    markedCount: result.marked.length,
    marked: capped(result.marked, 100).items,
    alembicVersion: result.alembicVersion,
  };
}

/** Runs one migrate operation: plan (read-only, SQL + findings to S3), apply, downgrade, verify, baseline. */
export async function runMigrateStep(
  deps: MigrateStepDeps,
  req: MigrateStepRequest,
): Promise<PlanOutput | MigrateOutput | VerifyOutput> {
  const base: Base = {
    step: 'migrate',
    operation: req.operation,
    database: req.database,
    migrations: req.source,
    runner: req.runner,
  };
  if (req.operation === 'verify') return verify(req, base);
  return withClient(
    req.target,
    async (client: ClientBase): Promise<PlanOutput | MigrateOutput> => {
      // Every history event this run records names the bundle (pgshift.history.bundle_sha256).
      await setBundleForSession(client, req.source.source === 'bundle' ? req.source.sha256 : null);
      switch (req.operation) {
        case 'plan':
          return plan(deps, req, base, client);
        case 'apply':
          return apply(deps, req, base, client);
        case 'downgrade':
          return downgrade(deps, req, base, client);
        case 'baseline':
          return baseline(req, base, client);
        default:
          throw new InputValidationError([`unknown operation ${String(req.operation)}`]);
      }
    },
    'pgshift-migrate',
  );
}
