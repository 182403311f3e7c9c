/** The apply stage: each pending migration through `runScript`, or all of them in one transaction. */
import type { ClientBase } from 'pg';
import { PgshiftError } from '../../shared/errors';
import type { Log } from '../../shared/logger';
import { assertFitsBudget, type TimeBudget } from '../budget';
import type { TimeoutOptions } from '../framing';
import type { LintOptions } from '../lint';
import type { Migration, ProgressCallback } from '../types';
import { recordFailure } from './record';
import { runScript } from './run-script';

export interface ApplyOptions extends TimeoutOptions {
  /** Recorded as applied_by and in history (the Step Functions execution id). */
  executionId: string;
  /** All pending migrations in one transaction (refused when one is no-transaction). @default false */
  singleTransaction?: boolean;
  /** Apply pending versions lower than the highest applied one. @default false */
  allowOutOfOrder?: boolean;
  /** Apply despite error-level lint findings. @default false */
  allowUnsafe?: boolean;
  /** Lint settings (severities, thresholds, Squawk binary). */
  lint?: Omit<LintOptions, 'client'>;
  log?: Log;
  onProgress?: ProgressCallback;
  /**
   * The runner's time (Lambda's remaining time): a migration whose estimate does not fit is not started
   * (MigrationTimeBudgetError), and statement_timeout is lowered to the time left. @default none (no limit)
   */
  budget?: TimeBudget;
}

export interface AppliedResult {
  version: string;
  name: string;
  checksum: string;
  durationMs: number;
}

export interface ApplyResult {
  applied: AppliedResult[];
  /** Versions that were already applied before this run. */
  alreadyApplied: number;
  lint: { errors: number; warnings: number };
}

/** Applies `pending` in order; the guards (refuse.ts) have passed. */
export async function applyPending(
  client: ClientBase,
  pending: Migration[],
  options: ApplyOptions,
  log: Log,
): Promise<AppliedResult[]> {
  const single = options.singleTransaction === true;
  const applied: AppliedResult[] = [];
  const total = pending.length;
  // In one transaction a stop would roll back everything: the whole run must fit before it starts.
  if (single) assertFitsBudget(options.budget, 'apply', [], pending, true);
  if (single && total > 0) await client.query('BEGIN');
  try {
    for (const [i, m] of pending.entries()) {
      if (!single) assertFitsBudget(options.budget, 'apply', applied, pending.slice(i));
      options.onProgress?.({ index: i + 1, total, version: m.version, name: m.name });
      log.info('applying migration', { version: m.version, name: m.name, index: i + 1, total });
      const started = Date.now();
      await runScript(client, m, m.up, {
        ...options,
        direction: 'up',
        framing: single ? 'outer-transaction' : 'own-transaction',
      });
      applied.push({
        version: m.version,
        name: m.name,
        checksum: m.checksum,
        durationMs: Date.now() - started,
      });
    }
    if (single && total > 0) await client.query('COMMIT');
  } catch (err) {
    if (single && total > 0) {
      await client.query('ROLLBACK').catch(() => undefined);
      const failed = pending[applied.length];
      if (err instanceof PgshiftError && failed)
        await recordFailure(client, failed, options.executionId, err, 'up');
    }
    throw err;
  }
  return applied;
}
