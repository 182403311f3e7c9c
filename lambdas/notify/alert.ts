import { z } from 'zod';
import type { Action } from '../shared/input';
import type { StepEvent, StepResults } from '../shared/step';
import { diffAlertLines } from '../schema/summary';

/** What an alert says; built from the workflow state by `alertFromEvent`, rendered by `renderAlert`. */
export interface Alert {
  /**
   * The outcome: the workflow's own (success, failure, still-running) or one it cannot catch, reported by the
   * EventBridge rule's function (timed-out, aborted; an uncatchable error is a failure with its States.* name).
   */
  kind: 'success' | 'failure' | 'still-running' | 'timed-out' | 'aborted';
  database: string;
  action: Action | 'unknown';
  executionId: string;
  /** ISO time the execution started. */
  startedAt?: string;
  /** Milliseconds from start to the alert. */
  durationMs?: number;
  /** The step the failure happened in (or after the last one that completed). */
  failedStep?: string;
  error?: { name: string; message: string };
  /** Pre-signed link to report.html, when a report was written. */
  reportUrl?: string;
  /** Link to the execution in the Step Functions console (absent for local runs). */
  consoleUrl?: string;
  /** The backup this run took (S3 key), and its S3 console link when the bucket is known. */
  backupKey?: string;
  backupUrl?: string;
  /** True for a dry run (nothing is applied, whatever the outcome). */
  dryRun?: boolean;
  /** How many migrations this run applied, when the apply step reported it. */
  appliedCount?: number;
  /** One line per notable fact (backup key, migrations applied, destructive changes, pre-flight warnings). */
  facts: string[];
  warnings: string[];
}

/** What Step Functions' Catch puts at `$.error`. */
export interface CaughtError {
  Error?: string;
  Cause?: string;
}

/** The order each action's steps run in, to name where a failure happened (a Catch does not say). */
const STEP_ORDER: Record<string, string[]> = {
  migrate: ['plan', 'preflight', 'backup', 'snapshotBefore', 'migrate', 'snapshotAfter', 'diff', 'report'],
  downgrade: ['backup', 'snapshotBefore', 'migrate', 'snapshotAfter', 'diff', 'report'],
  backup: ['backup', 'report'],
  report: ['report'],
  verify: ['verify', 'drift', 'report'],
  restore: ['restore', 'report'],
  cleanup: ['restore'],
  baseline: ['migrate', 'snapshotAfter', 'report'],
  preflight: ['plan', 'preflight', 'report'],
};

/**
 * Refusals a Choice makes after a step returned (its Pass state sets `$.error`): the step whose result refused,
 * not the next one in order, is where the run failed.
 */
const REFUSED_IN: Record<string, (results: StepResults) => string | undefined> = {
  PreflightFailedError: (r) => (r.preflight?.ok === false ? 'preflight' : undefined),
  UnsafeMigrationError: (r) => (r.plan?.blocking === true ? 'lint' : undefined),
  DriftDetectedError: (r) => (r.verify?.ok === false ? 'verify' : r.drift ? 'drift' : undefined),
};

/** The step a failure happened in: a refusing step's own, else the first of the action's steps without a result. */
export function failedStepOf(
  action: string,
  results: StepResults,
  errorName: string | undefined,
): string | undefined {
  const refused = errorName ? REFUSED_IN[errorName]?.(results) : undefined;
  return refused ?? (STEP_ORDER[action] ?? []).find((step) => results[step] === undefined);
}

const lambdaCauseSchema = z.object({ errorType: z.string().optional(), errorMessage: z.string() });

/**
 * Lambda's error Cause is a JSON document (`errorType`, `errorMessage`, `trace`); a Fail/Pass state's is plain
 * text. Either way only name and message reach the alert: traces belong in the logs.
 */
export function parseCaughtError(
  caught: CaughtError | undefined,
): { name: string; message: string } | undefined {
  if (!caught) return undefined;
  const name = caught.Error ?? 'Error';
  const cause = caught.Cause ?? '';
  try {
    const parsed = lambdaCauseSchema.safeParse(JSON.parse(cause));
    if (parsed.success) return { name: parsed.data.errorType ?? name, message: parsed.data.errorMessage };
  } catch {
    // plain-text cause
  }
  return { name, message: cause || name };
}

/** The console page of an execution; the region is the ARN's fourth field. */
export function executionConsoleUrl(executionArn: string): string | undefined {
  const parts = executionArn.split(':');
  if (parts[0] !== 'arn' || parts[2] !== 'states' || !parts[3]) return undefined;
  const host = parts[1] === 'aws-cn' ? 'console.amazonaws.cn' : 'console.aws.amazon.com';
  return `https://${parts[3]}.${host}/states/home?region=${parts[3]}#/v2/executions/details/${encodeURIComponent(executionArn)}`;
}

function factsFrom(results: StepResults): { facts: string[]; warnings: string[] } {
  const facts: string[] = [];
  const warnings: string[] = [];
  const backup = results.backup;
  if (backup?.key) facts.push(`Backup: s3 key ${backup.key}`);
  const plan = results.plan;
  if (plan?.pending) facts.push(`Pending migrations: ${plan.pending.length}`);
  if (plan?.lint && (plan.lint.errors || plan.lint.warnings)) {
    warnings.push(`Lint: ${plan.lint.errors ?? 0} error(s), ${plan.lint.warnings ?? 0} warning(s)`);
  }
  const migrate = results.migrate;
  if (migrate?.applied) facts.push(`Migrations applied: ${migrate.applied.length}`);
  if (migrate?.reverted) facts.push(`Migrations reverted: ${migrate.reverted.length}`);
  const diff = diffAlertLines(results.diff ?? {});
  facts.push(...diff.facts);
  warnings.push(...diff.warnings);
  const restore = results.restore;
  if (restore?.backupKey) facts.push(`Restored from: ${restore.backupKey}`);
  if (restore?.previousDatabase) facts.push(`Previous database kept as: ${restore.previousDatabase}`);
  const report = results.report;
  if (report && report.ok === false) {
    const why = parseCaughtError(report.error);
    warnings.push(
      `The report could not be written (${why?.name ?? 'Error'}): ${why?.message ?? 'no error was recorded'}`,
    );
  }
  for (const check of results.preflight?.checks ?? []) {
    if (check.status === 'warn') warnings.push(`Pre-flight ${check.id}: ${check.message}`);
  }
  return { facts, warnings };
}

/** Actions that read migration files: their alert says which set (a bundle, or the deployed files). */
const MIGRATION_ACTIONS = new Set(['migrate', 'downgrade', 'verify', 'baseline', 'preflight']);

/** "Migrations: bundle <key> (sha256 <hash>)" or the deployed files: which SQL this run read. */
function migrationsFact(input: StepEvent['input'] | undefined, results: StepResults): string | undefined {
  if (!input || !MIGRATION_ACTIONS.has(input.action)) return undefined;
  const used = results.plan?.migrations ?? results.migrate?.migrations ?? results.verify?.migrations;
  const bundle = used?.source === 'bundle' ? used : used ? undefined : input.migrations;
  return bundle
    ? `Migrations: bundle ${bundle.bundle} (sha256 ${bundle.sha256})`
    : 'Migrations: the files baked into the deployed migrate function (no bundle)';
}

/** The S3 console page of an object; the region is the execution ARN's fourth field. */
export function objectConsoleUrl(bucket: string, key: string, executionArn: string): string | undefined {
  const parts = executionArn.split(':');
  if (parts[0] !== 'arn' || !parts[3]) return undefined;
  const host = parts[1] === 'aws-cn' ? 'console.amazonaws.cn' : 'console.aws.amazon.com';
  return `https://${host}/s3/object/${encodeURIComponent(bucket)}?region=${parts[3]}&prefix=${encodeURIComponent(key)}`;
}

/** Builds an alert from the state the workflow carries (input, execution, results and a caught error). */
export function alertFromEvent(
  kind: Alert['kind'],
  event: Partial<StepEvent> & { error?: CaughtError },
  now: Date = new Date(),
  options: {
    bucket?: string;
    /** The step that failed when the state says it (e.g. `validate`: the input was never validated). */
    failedStep?: string;
  } = {},
): Alert {
  const input = event.input;
  const results = event.results ?? {};
  const executionId = event.execution?.id ?? 'unknown';
  const startedAt = event.execution?.startTime;
  const started = startedAt ? Date.parse(startedAt) : NaN;
  const action = input?.action ?? 'unknown';
  const { facts, warnings } = factsFrom(results);
  const error =
    kind === 'failure' || event.error
      ? (parseCaughtError(event.error) ?? { name: 'Error', message: 'unknown' })
      : undefined;
  const migrations = migrationsFact(input, results);
  if (migrations) facts.unshift(migrations);
  let failedStep: string | undefined;
  if (kind === 'failure') {
    failedStep = options.failedStep ?? (input ? failedStepOf(action, results, error?.name) : 'validate');
  }
  const backupKey = results.backup?.key;
  return {
    kind,
    database: input?.database ?? 'unknown',
    action,
    executionId,
    startedAt,
    durationMs: Number.isNaN(started) ? undefined : Math.max(0, now.getTime() - started),
    failedStep,
    error,
    reportUrl: results.report?.htmlUrl,
    consoleUrl: executionConsoleUrl(executionId),
    backupKey,
    backupUrl:
      options.bucket && backupKey ? objectConsoleUrl(options.bucket, backupKey, executionId) : undefined,
    dryRun: input?.dryRun === true ? true : undefined,
    appliedCount: results.migrate?.applied?.length,
    facts,
    warnings,
  };
}
