import { ConfigurationError, MigrationTimeBudgetError } from '../shared/errors';
import { record, records } from './parse-tree';

/**
 * The time a runner has: the deadline it must have returned by and what it keeps free before it. In Lambda the
 * handler builds it from `context.getRemainingTimeInMillis()`; the core knows only the deadline.
 */
export interface TimeBudget {
  /** Epoch milliseconds by which the run must have returned. */
  deadline: number;
  /** Kept free before the deadline: a cancelled statement's rollback, recording the failure, unlocking, returning. */
  marginMs: number;
  /** Estimated seconds of each migration, keyed `<version>_<name>` (pre-flight's `timeouts` check). @default 0 each */
  estimates?: Record<string, number>;
  /** @default Date.now */
  now?: () => number;
}

/** The shortest statement_timeout pgshift sets: below it a statement would be cancelled before it could start. */
export const MIN_STATEMENT_TIMEOUT_MS = 1000;

export interface BudgetCheck {
  fits: boolean;
  /** Until the deadline. */
  remainingMs: number;
  /** The estimate (at least MIN_STATEMENT_TIMEOUT_MS) plus the margin. */
  neededMs: number;
  estimatedMs: number;
}

/** Whether a migration estimated at `estimatedSeconds` can start now and end, margin included, by the deadline. */
export function checkBudget(budget: TimeBudget, estimatedSeconds: number, now: number): BudgetCheck {
  const remainingMs = budget.deadline - now;
  const estimatedMs = Math.ceil(Math.max(0, estimatedSeconds) * 1000);
  const neededMs = Math.max(estimatedMs, MIN_STATEMENT_TIMEOUT_MS) + budget.marginMs;
  return { fits: neededMs <= remainingMs, remainingMs, neededMs, estimatedMs };
}

const UNIT_MS: Record<string, number> = {
  us: 0.001,
  ms: 1,
  s: 1000,
  min: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** A timeout as PostgreSQL reads its text, in ms: no unit means ms, 0 means none. */
export function durationMs(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?$/.exec(value.trim());
  const factor = m ? UNIT_MS[m[2] ?? 'ms'] : undefined;
  if (!m || factor === undefined)
    throw new ConfigurationError(`"${value}" is not a duration such as 5s or 30min`);
  return Math.round(Number(m[1]) * factor);
}

/**
 * The statement_timeout to set now: the configured one, lowered to the time left before the margin, so that
 * PostgreSQL cancels a statement before the runner is killed (a killed client leaves its statement running).
 * Never 0 (which would mean no timeout at all).
 */
export function cappedStatementTimeoutMs(configured: string, budget: TimeBudget, now: number): number {
  const configuredMs = durationMs(configured);
  const usableMs = Math.max(MIN_STATEMENT_TIMEOUT_MS, budget.deadline - now - budget.marginMs);
  return configuredMs === 0 ? usableMs : Math.min(configuredMs, usableMs);
}

/** The `<version>_<name>` id pre-flight keys its estimates by. */
export function migrationId(m: { version: string; name: string }): string {
  return `${m.version}_${m.name}`;
}

function seconds(ms: number): string {
  return `${Math.max(0, Math.round(ms / 1000))}s`;
}

/**
 * Throws MigrationTimeBudgetError when the next migration (or, `together`, all of them in one transaction)
 * does not fit the budget. `done` are those this run already finished (and recorded); `left` starts with the next.
 */
export function assertFitsBudget(
  budget: TimeBudget | undefined,
  verb: 'apply' | 'revert',
  done: { version: string; name: string }[],
  left: { version: string; name: string }[],
  together = false,
): void {
  const [next] = left;
  if (!budget || next === undefined) return;
  const now = (budget.now ?? Date.now)();
  const counted = together ? left : left.slice(0, 1);
  const estimate = counted.reduce((s, m) => s + (budget.estimates?.[migrationId(m)] ?? 0), 0);
  const check = checkBudget(budget, estimate, now);
  if (check.fits) return;
  const past = verb === 'apply' ? 'applied' : 'reverted';
  const what = together
    ? `the ${left.length} migration(s) in one transaction (estimated ~${seconds(check.estimatedMs)} together)`
    : `${migrationId(next)} (estimated ~${seconds(check.estimatedMs)})`;
  throw new MigrationTimeBudgetError(
    `Stopped between migrations: ${what} needs ~${seconds(check.neededMs)} with the ${seconds(budget.marginMs)} ` +
      `margin, and this runner has ~${seconds(check.remainingMs)} left. ` +
      `${past.charAt(0).toUpperCase()}${past.slice(1)} in this run and recorded: ${done.length === 0 ? 'none' : done.map(migrationId).join(', ')}. ` +
      `Not started, still pending: ${left.map(migrationId).join(', ')}. ` +
      'Nothing is half-done. The state machine continues on Fargate; from the CLI, run again with runner "fargate".',
    {
      details: {
        [past]: done.map((m) => ({ version: m.version, name: m.name })),
        pending: left.map((m) => ({
          version: m.version,
          name: m.name,
          estimatedSeconds: budget.estimates?.[migrationId(m)] ?? 0,
        })),
        remainingMs: check.remainingMs,
        neededMs: check.neededMs,
        marginMs: budget.marginMs,
      },
    },
  );
}

/**
 * Pre-flight's per-migration estimates (its `timeouts` check, `value.migrations[]`), keyed `<version>_<name>`;
 * empty when pre-flight did not run (downgrade) or skipped the check.
 */
export function estimatesFromPreflight(preflight: unknown): Record<string, number> {
  const checks = records(record(preflight).checks);
  const timeouts = checks.find((c) => c.id === 'timeouts');
  const out: Record<string, number> = {};
  for (const m of records(record(timeouts?.value).migrations)) {
    if (typeof m.migration === 'string' && typeof m.estimatedSeconds === 'number') {
      out[m.migration] = m.estimatedSeconds;
    }
  }
  return out;
}
