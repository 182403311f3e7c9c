import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { z } from 'zod';
import {
  cachedTargetResolver,
  loadApplyTimeConfig,
  loadConfig,
  retryOnRotatedSecret,
} from '../shared/config';
import { connect } from '../shared/db';
import { InputValidationError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import type { PreflightOutput, SizeOutput, StepEvent } from '../shared/step';
import { loadStepResult, withStepBudget } from '../shared/step-budget';
import { objectStore, stepContext } from '../shared/step-context';
import { backupPgDumpVersion } from './pg-dump-version';
import { runPreflight } from './run-preflight';
import { probeSize, type SizeProbeOptions } from './size';
import { thresholdsFromEnv } from './thresholds';

/** Lambda's maximum timeout: the most the migrate function's apply can ever have when the stack says nothing. */
const LAMBDA_MAX_SECONDS = 900;

// Read once per container: a bad value fails every invocation with a ConfigurationError naming it.
const config = loadConfig();
const thresholds = thresholdsFromEnv();
/**
 * The Lambda apply's budget (PGSHIFT_APPLY_TIME_BUDGET_SECONDS: the stack sets the migrate function's timeout;
 * else Lambda's 15-minute maximum) and the margin it keeps (PGSHIFT_APPLY_TIME_MARGIN_SECONDS); a Fargate
 * apply's (PGSHIFT_FARGATE_TIME_BUDGET_SECONDS, the Fargate state's timeout; unset: no Fargate). Not this
 * function's own remaining time: preflight's timeout says nothing about how long the apply may run.
 */
const applyTime = loadApplyTimeConfig(process.env, 1);
const timeBudgetMs = applyTime.budgetMs ?? LAMBDA_MAX_SECONDS * 1000;
const timeMarginMs = applyTime.marginMs ?? 0;
const fargateTimeBudgetMs = applyTime.fargateBudgetMs;
const pgDumpVersion = backupPgDumpVersion();
const log = createLogger('preflight');
// Created even when no RDS id is configured: construction is offline and cheap, and it keeps one client per container.
const cloudWatch = new CloudWatchClient({});
const databaseTarget = cachedTargetResolver(config);
// Reads the plan's analyses from S3 when they did not fit the workflow state, and spills its own output likewise.
const store = objectStore(config);

/**
 * The size probe (`params.operation: "size"`): the database's size, and for a restore its backup's, which the
 * runner choice of backup, downgrade and restore reads (docs/workflow.md). Read-only.
 */
async function size(event: StepEvent): Promise<SizeOutput> {
  const dbTarget = await databaseTarget();
  let restore: SizeProbeOptions['restore'];
  if (event.input.action === 'restore') {
    if (!event.input.backup) {
      throw new InputValidationError(['backup: required for action "restore" (an S3 key or "latest")']);
    }
    // The same logical name the restore step resolves the backup under (lambdas/restore/handler.ts).
    const { database } = stepContext(event, config, dbTarget);
    restore = {
      connected: dbTarget.database,
      database,
      confirm: event.input.confirm,
      backup: event.input.backup,
      prefix: config.backupPrefix,
    };
  }
  const probe = await probeSize({ connect: () => connect(dbTarget, 'pgshift-size'), store }, { restore });
  log.info('size probe', { action: event.input.action, ...probe });
  return { step: 'size', ok: true, ...probe };
}

/**
 * Pre-flight step: judges the plan step's analyses against the live database and returns the PreflightReport
 * as a StepOutput. A failed check does not throw: the state machine's Choice state reads `ok`. Bad input (no
 * plan analyses, unknown skip ids) and an unreachable database do throw.
 */
async function run(event: StepEvent): Promise<SizeOutput | PreflightOutput> {
  if (event.params?.operation === 'size') return size(event);
  const plan = await loadStepResult(store, event.results ?? {}, 'plan');
  const analyses = plan?.analyses;
  if (!Array.isArray(analyses)) {
    throw new InputValidationError([
      'results.plan.analyses: missing; the plan step must run before preflight and return its analyses',
    ]);
  }
  const dbTarget = await databaseTarget();
  const report = await runPreflight(
    {
      connect: () => connect(dbTarget, 'pgshift-preflight'),
      storageMetrics:
        config.rdsInstanceId !== undefined || config.rdsClusterId !== undefined
          ? { cloudWatch, rdsInstanceId: config.rdsInstanceId, rdsClusterId: config.rdsClusterId }
          : undefined,
      timeBudgetMs,
      timeMarginMs,
      fargateTimeBudgetMs,
      pgDumpVersion,
      log,
    },
    {
      analyses,
      executionId: event.execution.id,
      thresholds,
      skip: event.input.skipPreflight
        ? { ids: event.input.skipPreflight, reason: event.input.skipReason }
        : undefined,
      terminateIdleInTransaction: event.input.terminateIdleInTransaction === true,
      runner: event.input.runner,
    },
  );
  // `Apply runner?` reads it: the timeouts check's choice (absent when that check was skipped).
  const timeoutsValue = report.checks.find((c) => c.id === 'timeouts')?.value;
  const timeouts = z.object({ runner: z.string().optional() }).safeParse(timeoutsValue).data;
  return {
    step: 'preflight',
    ok: report.ok,
    ...(timeouts?.runner ? { applyRunner: timeouts.runner } : {}),
    checks: report.checks,
    ...(report.terminated ? { terminated: report.terminated } : {}),
  };
}

/**
 * The Lambda entry: `run`, retried once with the re-read secret when a rotation made the login fail, its output
 * within the state's byte budget (lambdas/shared/step-budget.ts).
 */
export const handler = withStepBudget(
  { step: 'preflight', store, log },
  retryOnRotatedSecret(databaseTarget, run),
);
