import {
  cachedTargetResolver,
  loadApplyTimeConfig,
  loadConfig,
  loadLintConfig,
  retryOnRotatedSecret,
} from '../shared/config';
import { InputValidationError } from '../shared/errors';
import type { ExecutionInput } from '../shared/input';
import { createLogger } from '../shared/logger';
import type { StepEvent, StepOutput } from '../shared/step';
import { objectStore, stepContext } from '../shared/step-context';
import { withStepBudget } from '../shared/step-budget';
import { loadBundle, loadMigrations, type LintOptions, type Migration, type MigrationSource } from './index';
import { estimatesFromPreflight, type TimeBudget } from './budget';
import { MIGRATE_OPERATIONS, runMigrateStep, type MigrateOperation } from './step';

const config = loadConfig();
const log = createLogger('migrate');
const store = objectStore(config);
const lintOptions: Omit<LintOptions, 'client'> = loadLintConfig();
const databaseTarget = cachedTargetResolver(config);
/**
 * What apply/downgrade keep free before Lambda's deadline (PGSHIFT_APPLY_TIME_MARGIN_SECONDS, set by the stack
 * from the function's timeout): the rollback of a cancelled statement, recording, unlocking, returning.
 */
const marginMs = loadApplyTimeConfig().marginMs ?? 60_000;

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

function isMigrateOperation(value: unknown): value is MigrateOperation {
  return MIGRATE_OPERATIONS.some((operation) => operation === value);
}

/** Migrate step: parses the operation, reads the migrations and the target, runs the core (./step.ts). */
async function run(event: StepEvent, context?: InvocationContext): Promise<StepOutput> {
  const operation = event.params?.operation;
  if (!isMigrateOperation(operation)) {
    throw new InputValidationError([
      `params.operation must be one of ${MIGRATE_OPERATIONS.join(', ')}, got ${JSON.stringify(operation)}`,
    ]);
  }
  const { migrations, source } = await migrationsFor(event.input);
  const dbTarget = await databaseTarget();
  return runMigrateStep(
    { store, log },
    {
      operation,
      database: stepContext(event, config, dbTarget).database,
      target: dbTarget,
      migrations,
      source,
      runner: event.params?.runner === 'fargate' ? 'fargate' : 'lambda',
      execution: event.execution,
      input: event.input,
      timeouts: { lockTimeout: config.lockTimeout, statementTimeout: config.statementTimeout },
      lint: lintOptions,
      budget: timeBudget(event, context),
    },
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
