import type { ClientBase } from 'pg';
import { queryOneRow } from '../../shared/db';
import type { MigrationAnalysis } from '../../shared/analysis';
import type { PreflightCheckResult } from '../../shared/step';
import { estimateCosts, formatSeconds, type TouchCost } from '../estimate';
import type { CheckContext, PreflightCheck } from '../types';
import { errorMessage } from '../../shared/errors';

/**
 * A timeout setting in milliseconds as the server reads it ("5s", "15min", "500" = ms; 0 = none), so pgshift
 * interprets it exactly as PostgreSQL will. Set locally inside a rolled-back transaction.
 */
async function timeoutMs(
  client: ClientBase,
  name: 'statement_timeout' | 'lock_timeout',
  value: string,
): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT set_config($1, $2, true)', [name, value]);
    const row = await queryOneRow<{ ms: string }>(
      client,
      'SELECT setting AS ms FROM pg_settings WHERE name = $1',
      [name],
    );
    return Number(row.ms);
  } finally {
    await client.query('ROLLBACK');
  }
}

/** Where the apply runs, and why. */
export interface RunnerChoice {
  runner: 'lambda' | 'fargate';
  /** Set when no runner can fit the estimate: the check fails with it. */
  refusal?: string;
  /** Set when the apply goes to Fargate: the check warns with it. */
  note?: string;
}

/**
 * The apply's runner for an estimate: Lambda when the estimate plus the margin fits its budget with the warning
 * ratio to spare (estimates are rough), else Fargate when it is available and fits its timeout, else a
 * refusal. A runner asked for in the input is kept, and refused when it cannot fit.
 */
export function chooseApplyRunner(
  totalSeconds: number,
  budgets: { lambdaMs?: number; marginMs?: number; fargateMs?: number; warnRatio: number },
  asked?: 'lambda' | 'fargate',
): RunnerChoice {
  const estimate = formatSeconds(totalSeconds);
  const totalMs = totalSeconds * 1000;
  const fargateFits = budgets.fargateMs !== undefined && totalMs <= budgets.fargateMs * budgets.warnRatio;
  const fargateText =
    budgets.fargateMs === undefined
      ? 'Fargate is not available here'
      : `the Fargate task's timeout (fargateTimeout) is ${formatSeconds(budgets.fargateMs / 1000)}`;
  if (asked === 'fargate') {
    return fargateFits
      ? { runner: 'fargate' }
      : {
          runner: 'fargate',
          refusal: `all pending migrations may take ~${estimate} and ${fargateText}; apply fewer migrations per run or raise fargate.timeoutMinutes`,
        };
  }
  if (budgets.lambdaMs === undefined) return { runner: asked ?? 'lambda' };
  const lambdaFits = totalMs + (budgets.marginMs ?? 0) <= budgets.lambdaMs * budgets.warnRatio;
  if (lambdaFits) return { runner: 'lambda' };
  const lambdaText = `Lambda's time budget of ${formatSeconds(budgets.lambdaMs / 1000)}`;
  if (asked === 'lambda') {
    return {
      runner: 'lambda',
      refusal: `all pending migrations may take ~${estimate} against ${lambdaText}; drop runner "lambda" (Fargate is chosen then) or apply fewer migrations per run`,
    };
  }
  if (fargateFits) {
    return {
      runner: 'fargate',
      note: `all pending migrations may take ~${estimate}, too long for ${lambdaText}: the apply will run on Fargate`,
    };
  }
  return {
    runner: 'lambda',
    refusal: `all pending migrations may take ~${estimate}: too long for ${lambdaText}, and ${fargateText}; apply fewer migrations per run`,
  };
}

interface MigrationTiming {
  entry: {
    migration: string;
    statementTimeoutMs: number;
    lockTimeoutMs: number;
    estimatedSeconds: number;
    longestStatementSeconds: number;
  };
  seconds: number;
  failures: string[];
  warnings: string[];
}

/**
 * One migration's estimated time against its own statement_timeout and lock_timeout, or why its timeout
 * settings are unusable.
 */
async function migrationTiming(
  ctx: CheckContext,
  a: MigrationAnalysis,
  costs: TouchCost[],
): Promise<MigrationTiming | { unusable: string }> {
  const th = ctx.thresholds;
  const failures: string[] = [];
  const warnings: string[] = [];
  const id = `${a.version}_${a.name}`;
  let statementMs: number;
  let lockMs: number;
  try {
    statementMs = await timeoutMs(ctx.client, 'statement_timeout', a.statementTimeout);
    lockMs = await timeoutMs(ctx.client, 'lock_timeout', a.lockTimeout);
  } catch (err) {
    return { unusable: `${id}: unusable timeout setting (${errorMessage(err)})` };
  }
  const perStatement = new Map<number, number>();
  for (const c of costs.filter((x) => x.migration === id)) {
    perStatement.set(c.statementIndex, (perStatement.get(c.statementIndex) ?? 0) + c.seconds);
  }
  const longest = Math.max(0, ...perStatement.values());
  const seconds = [...perStatement.values()].reduce((s, x) => s + x, 0);
  const entry = {
    migration: id,
    statementTimeoutMs: statementMs,
    lockTimeoutMs: lockMs,
    estimatedSeconds: Math.round(seconds * 10) / 10,
    longestStatementSeconds: Math.round(longest * 10) / 10,
  };
  if (statementMs > 0 && longest * 1000 > statementMs) {
    failures.push(
      `${id}: its slowest statement may take ~${formatSeconds(longest)}, longer than its statement_timeout ` +
        `${a.statementTimeout}, so PostgreSQL would cancel it; raise that migration's statement_timeout ` +
        `("-- pgshift:statement-timeout") or split the work`,
    );
  } else if (statementMs > 0 && longest * 1000 > statementMs * th.timeoutWarnRatio) {
    warnings.push(
      `${id}: its slowest statement may take ~${formatSeconds(longest)} against statement_timeout ` +
        `${a.statementTimeout}; raise that migration's statement_timeout or split the work`,
    );
  }
  if (lockMs === 0) {
    warnings.push(
      `${id}: lock_timeout is disabled, so a blocked ALTER waits forever while every query queues behind it`,
    );
  }
  return { entry, seconds, failures, warnings };
}

/**
 * timeouts: each statement's estimated time (rewrite/index build: size / measured rate; locked scan: size /
 * scan rate) against the migration's statement_timeout, and the whole run against the runners' time budgets
 * (chooseApplyRunner): it says where the apply runs, and fails when no runner can fit it.
 */
export const timeoutsCheck: PreflightCheck = {
  id: 'timeouts',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    const th = ctx.thresholds;
    const costs = estimateCosts(ctx.analyses, ctx.relations, th);
    const warnings: string[] = [];
    const failures: string[] = [];
    const migrations: MigrationTiming['entry'][] = [];
    let totalSeconds = 0;
    for (const a of ctx.analyses) {
      const timing = await migrationTiming(ctx, a, costs);
      if ('unusable' in timing) {
        failures.push(timing.unusable);
        continue;
      }
      totalSeconds += timing.seconds;
      migrations.push(timing.entry);
      failures.push(...timing.failures);
      warnings.push(...timing.warnings);
    }
    const budgetMs = ctx.deps.timeBudgetMs;
    const choice = chooseApplyRunner(
      totalSeconds,
      {
        lambdaMs: budgetMs,
        marginMs: ctx.deps.timeMarginMs,
        fargateMs: ctx.deps.fargateTimeBudgetMs,
        warnRatio: th.timeoutWarnRatio,
      },
      ctx.options.runner,
    );
    if (choice.refusal) failures.push(choice.refusal);
    if (choice.note) warnings.push(choice.note);
    const value = {
      migrations,
      estimatedSeconds: Math.round(totalSeconds * 10) / 10,
      runner: choice.runner,
      timeBudgetMs: budgetMs ?? null,
      timeMarginMs: ctx.deps.timeMarginMs ?? null,
      fargateTimeBudgetMs: ctx.deps.fargateTimeBudgetMs ?? null,
      rewriteBytesPerSecond: th.rewriteBytesPerSecond,
      scanBytesPerSecond: th.scanBytesPerSecond,
    };
    if (failures.length > 0) {
      return { id: this.id, status: 'fail', value, message: `${[...failures, ...warnings].join('; ')}.` };
    }
    if (warnings.length > 0)
      return { id: this.id, status: 'warn', value, message: `${warnings.join('; ')}.` };
    const budgetText =
      budgetMs === undefined ? ' No time budget given: only statement timeouts were compared.' : '';
    return {
      id: this.id,
      status: 'pass',
      value,
      message: `Estimated ~${formatSeconds(totalSeconds)} of rewrites, index builds and locked scans fit the timeouts.${budgetText}`,
    };
  },
};
