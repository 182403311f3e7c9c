import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { loadConfig, resolveTarget, type PgshiftConfig } from '../shared/config';
import { connect } from '../shared/db';
import { optionalEnv } from '../shared/env';
import { InputValidationError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { pgToolVersion } from '../shared/pgtools';
import type { StepEvent, StepOutput } from '../shared/step';
import { runPreflight } from './run-preflight';

const log = createLogger('preflight');
let config: PgshiftConfig | undefined;
let secrets: SecretsManagerClient | undefined;
let cloudWatch: CloudWatchClient | undefined;

/**
 * The apply step's time budget: PGSHIFT_APPLY_TIME_BUDGET_SECONDS when the stack sets it (the migrate
 * function's timeout, or the Fargate budget), else this invocation's remaining time as a stand-in.
 */
function timeBudgetMs(context: Context | undefined): number | undefined {
  const seconds = optionalEnv('PGSHIFT_APPLY_TIME_BUDGET_SECONDS');
  if (seconds !== undefined && /^\d+$/.test(seconds)) return Number(seconds) * 1000;
  return context?.getRemainingTimeInMillis();
}

/**
 * Pre-flight step: reads the plan step's analyses and returns the PreflightReport as a StepOutput. A failed
 * check does not throw: the state machine's Choice state reads `ok`.
 */
export async function handler(event: StepEvent, context?: Context): Promise<StepOutput> {
  const analyses = event.results?.plan?.analyses;
  if (!Array.isArray(analyses)) {
    throw new InputValidationError([
      'results.plan.analyses: missing; the plan step must run before preflight and return its analyses',
    ]);
  }
  config ??= loadConfig();
  const cfg = config;
  const target = await resolveTarget(cfg, () => (secrets ??= new SecretsManagerClient({})));
  const metricsConfigured = cfg.rdsInstanceId !== undefined || cfg.rdsClusterId !== undefined;
  if (metricsConfigured) cloudWatch ??= new CloudWatchClient({});
  const report = await runPreflight(
    {
      connect: () => connect(target, 'pgshift-preflight'),
      storageMetrics:
        metricsConfigured && cloudWatch
          ? { cloudWatch, rdsInstanceId: cfg.rdsInstanceId, rdsClusterId: cfg.rdsClusterId }
          : undefined,
      timeBudgetMs: timeBudgetMs(context),
      pgDumpVersion: () => pgToolVersion('pg_dump'),
      log,
    },
    {
      analyses,
      executionId: event.execution.id,
      skip: event.input.skipPreflight
        ? { ids: event.input.skipPreflight, reason: event.input.skipReason }
        : undefined,
      terminateIdleInTransaction: event.input.terminateIdleInTransaction === true,
    },
  );
  return { step: 'preflight', ok: report.ok, checks: report.checks };
}
