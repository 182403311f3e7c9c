import type { ClientBase } from 'pg';
import { cachedTargetResolver, loadConfig, retryOnRotatedSecret } from '../shared/config';
import { withClient } from '../shared/db';
import {
  ConfigurationError,
  DatabaseConnectionError,
  InputValidationError,
  errorMessage,
} from '../shared/errors';
import { setBundleForSession } from '../shared/history';
import type { ExecutionInput } from '../shared/input';
import { planKeys } from '../shared/keys';
import { optionalEnv } from '../shared/env';
import { createLogger } from '../shared/logger';
import { reportProgress } from '../shared/progress';
import { createS3Client, putJson, putText, type ObjectStore } from '../shared/s3';
import type { StepEvent, StepOutput } from '../shared/step';
import { withStepBudget } from '../shared/step-budget';
import {
  applyMigrations,
  baselineDatabase,
  checksumOf,
  downgradeMigrations,
  dryRun,
  loadBundle,
  loadMigrations,
  parseSeverityOverrides,
  verifyMigrations,
  type LintOptions,
  type Migration,
  type MigrationSource,
  type ProgressCallback,
} from './index';
import { estimatesFromPreflight, type TimeBudget } from './budget';

const config = loadConfig();
const log = createLogger('migrate');
const store: ObjectStore = {
  s3: createS3Client({ endpoint: config.s3Endpoint }),
  bucket: config.bucket,
  kmsKeyId: config.kmsKeyId,
};
const lintOptions: Omit<LintOptions, 'client'> = (() => {
  try {
    const bytes = process.env.PGSHIFT_LINT_LARGE_TABLE_BYTES;
    const rows = process.env.PGSHIFT_LINT_LARGE_TABLE_ROWS;
    return {
      severities: parseSeverityOverrides(process.env.PGSHIFT_LINT_SEVERITIES),
      thresholds: {
        ...(bytes ? { largeTableBytes: Number(bytes) } : {}),
        ...(rows ? { largeTableRows: Number(rows) } : {}),
      },
    };
  } catch (err) {
    throw new ConfigurationError(`PGSHIFT_LINT_SEVERITIES: ${errorMessage(err)}`);
  }
})();
const databaseTarget = cachedTargetResolver(config);
const marginMs = timeMarginMs(process.env);

/**
 * What apply/downgrade keep free before Lambda's deadline (PGSHIFT_APPLY_TIME_MARGIN_SECONDS, set by the stack
 * from the function's timeout): the rollback of a cancelled statement, recording, unlocking, returning.
 */
function timeMarginMs(env: NodeJS.ProcessEnv): number {
  const raw = optionalEnv('PGSHIFT_APPLY_TIME_MARGIN_SECONDS', env) ?? '60';
  if (!/^\d+$/.test(raw)) {
    throw new ConfigurationError(
      `PGSHIFT_APPLY_TIME_MARGIN_SECONDS must be a whole number of seconds, not "${raw}"`,
    );
  }
  return Number(raw) * 1000;
}

/** Lambda's context, as far as this handler reads it. */
interface InvocationContext {
  getRemainingTimeInMillis(): number;
}

/**
 * In Lambda: the deadline its remaining time sets, with pre-flight's estimates. On Fargate (no context) the
 * state's own timeout and statement_timeout bound the run.
 */
function timeBudget(event: StepEvent, context: InvocationContext | undefined): TimeBudget | undefined {
  if (typeof context?.getRemainingTimeInMillis !== 'function') return undefined;
  return {
    deadline: Date.now() + context.getRemainingTimeInMillis(),
    marginMs,
    estimates: estimatesFromPreflight(event.results?.preflight),
  };
}
/** Bundles already read and checked by this container, by sha256 (plan and apply of one run share one). */
const bundles = new Map<string, Promise<Migration[]>>();

/** The execution's bundle when its input names one (checked against its sha256), else the deployed files. */
async function migrationsFor(
  input: ExecutionInput,
): Promise<{ migrations: Migration[]; source: MigrationSource }> {
  const ref = input.migrations;
  if (!ref) {
    const migrations = await loadMigrations(config.migrationsDir);
    return { migrations, source: { source: 'deployed', count: migrations.length } };
  }
  let loading = bundles.get(ref.sha256);
  if (!loading) {
    loading = loadBundle(store, ref).then((b) => b.migrations);
    bundles.set(ref.sha256, loading);
    // A refused or missing bundle is not remembered: the next invocation reads the bucket again.
    loading.catch(() => bundles.delete(ref.sha256));
  }
  const migrations = await loading;
  return { migrations, source: { source: 'bundle', ...ref, count: migrations.length } };
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

const OPERATIONS = ['plan', 'apply', 'downgrade', 'verify', 'baseline'] as const;
type Operation = (typeof OPERATIONS)[number];

/** A key segment for this execution: its name, or the last part of its id. */
function executionSegment(event: StepEvent): string {
  const raw = event.execution.name ?? event.execution.id.split(':').pop() ?? event.execution.id;
  return raw.replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || 'execution';
}

/** Where the SQL written to S3 is, its size and sha256 (the CLI fetches it and checks the hash). */
function sqlObject(key: string, sql: string): { bucket: string; key: string; bytes: number; sha256: string } {
  return { bucket: store.bucket, key, bytes: Buffer.byteLength(sql, 'utf8'), sha256: checksumOf(sql) };
}

/** At most `max` items, and a flag saying the list was cut (outputs stay far below Step Functions' 256 KB). */
function capped<T>(items: T[], max: number): { items: T[]; truncated: boolean } {
  return { items: items.slice(0, max), truncated: items.length > max };
}

/** A pending migration as the plan shows it, saying when it runs outside a transaction and why, or is empty. */
function pendingEntry(m: Migration): Record<string, unknown> {
  return {
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    ...(m.up.noTransaction ? { noTransaction: m.up.noTransactionReason ?? true } : {}),
    ...(m.up.empty ? { empty: true } : {}),
  };
}

/** Migrate step: plan (read-only, SQL + findings to S3), apply, downgrade, verify, baseline. */
async function run(event: StepEvent, context?: InvocationContext): Promise<StepOutput> {
  const operation = event.params?.operation as Operation;
  if (!OPERATIONS.includes(operation)) {
    throw new InputValidationError([
      `params.operation must be one of ${OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`,
    ]);
  }
  const { migrations, source } = await migrationsFor(event.input);
  const dbTarget = await databaseTarget();
  const database = config.databaseName ?? event.input.database ?? dbTarget.database;
  const timeouts = { lockTimeout: config.lockTimeout, statementTimeout: config.statementTimeout };
  // Which runner this is (the Fargate states say so in params): the report and the tests read it.
  const runner = event.params?.runner === 'fargate' ? 'fargate' : 'lambda';
  const base = { step: 'migrate', operation, database, migrations: source, runner };
  const budget = timeBudget(event, context);

  if (operation === 'verify') {
    try {
      const status = await withClient(
        dbTarget,
        (client) => verifyMigrations(client, migrations),
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

  return withClient(
    dbTarget,
    async (client: ClientBase): Promise<StepOutput> => {
      // Every history event this run records names the bundle (pgshift.history.bundle_sha256).
      await setBundleForSession(client, source.source === 'bundle' ? source.sha256 : null);
      switch (operation) {
        case 'plan': {
          const result = await dryRun(client, migrations, {
            ...timeouts,
            allowUnsafe: event.input.allowUnsafe === true,
            lint: lintOptions,
          });
          const size = await client.query<{ bytes: string }>(
            'SELECT pg_database_size(current_database())::text AS bytes',
          );
          const keys = planKeys(database, executionSegment(event));
          await putText(store, keys.sql, result.sql, 'application/sql; charset=utf-8');
          await putJson(store, keys.json, {
            database,
            executionId: event.execution.id,
            migrations: source,
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
            databaseSizeBytes: Number(size.rows[0].bytes),
            written: { sql: keys.sql, findings: keys.json },
            // The SQL stays in S3 (outputs have a budget); its size and hash let a reader check what they fetch.
            sql: sqlObject(keys.sql, result.sql),
          };
        }
        case 'apply': {
          const result = await applyMigrations(client, migrations, {
            ...timeouts,
            executionId: event.execution.id,
            allowUnsafe: event.input.allowUnsafe === true,
            lint: lintOptions,
            log,
            onProgress: migrationProgress('applying'),
            budget,
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
        case 'downgrade': {
          const result = await downgradeMigrations(client, migrations, {
            ...timeouts,
            executionId: event.execution.id,
            steps: event.input.steps,
            toVersion: event.input.toVersion,
            dryRun: event.input.dryRun === true,
            log,
            onProgress: migrationProgress('reverting'),
            budget,
            // Execution ids are unique: a downgrade continued on Fargate never reverts more than `steps`.
            stepsIncludeEarlierReverts: true,
          });
          const keys = planKeys(database, executionSegment(event));
          await putText(store, keys.downgradeSql, result.sql, 'application/sql; charset=utf-8');
          return {
            ...base,
            ok: true,
            dryRun: result.dryRun,
            reverted: capped(result.reverted, 100).items,
            revertedCount: result.reverted.length,
            written: { sql: keys.downgradeSql },
            // As the plan's: the SQL stays in S3, the output says where and what it hashes to.
            sql: sqlObject(keys.downgradeSql, result.sql),
          };
        }
        case 'baseline': {
          if (!event.input.toVersion)
            throw new InputValidationError(['toVersion: required for action "baseline"']);
          const result = await baselineDatabase(client, migrations, {
            toVersion: event.input.toVersion,
            executionId: event.execution.id,
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
        default:
          throw new InputValidationError([`unknown operation ${String(operation)}`]);
      }
    },
    'pgshift-migrate',
  );
}

/**
 * The Lambda entry: `run`, retried once with the re-read secret when a rotation made the login fail, its output
 * within the state's byte budget (lambdas/shared/step-budget.ts).
 */
export const handler = withStepBudget(
  { step: 'migrate', store, log },
  retryOnRotatedSecret(databaseTarget, run),
);
