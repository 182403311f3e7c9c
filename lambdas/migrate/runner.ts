/**
 * The migration runner as a pipeline, one stage per file under ./runner/: plan (plan.ts) → guards
 * (refuse.ts) → apply (apply.ts, each script through run-script.ts) ; downgrade (downgrade.ts) reverts through the
 * same run-script.ts. PostgreSQL's errors become pgshift's in pg-errors.ts; INVALID indexes and interrupted
 * runs are found in invalid-index.ts and interrupted.ts. The package's surface is ./index.ts.
 */
import type { ClientBase } from 'pg';
import { ensureHistoryTables } from '../shared/history';
import { silentLogger } from '../shared/logger';
import { withMigrationLock } from './lock';
import { applyPending, type ApplyOptions, type ApplyResult } from './runner/apply';
import { recordInterrupted } from './runner/interrupted';
import { lintPending, planMigrations } from './runner/plan';
import {
  refuseDrift,
  refuseEarlierRunLeftovers,
  refuseLintErrors,
  refuseNoTransactionInOneTransaction,
  refuseOutOfOrder,
} from './runner/refuse';
import { ensureParser } from './statements';
import type { Migration } from './types';

/**
 * Applies pending migrations: advisory lock (fails fast) → history tables → interrupted runs recorded → plan →
 * refuse drift / out-of-order / no-transaction in one transaction → lint (refuse error-level findings unless
 * allowUnsafe) → refuse what an earlier run left → each migration in its own transaction with
 * lock_timeout/statement_timeout and its history row in the same transaction → unlock.
 */
export async function applyMigrations(
  client: ClientBase,
  migrations: Migration[],
  options: ApplyOptions,
): Promise<ApplyResult> {
  const log = options.log ?? silentLogger;
  await ensureParser();
  return withMigrationLock(client, async () => {
    await ensureHistoryTables(client);
    // Under the lock no other run is live: a 'running' event with no result is a run whose client died.
    const recorded = await recordInterrupted(client, migrations, options.executionId);
    for (const r of recorded) log.warn('recorded an interrupted migration as failed', { ...r });
    const plan = await planMigrations(client, migrations);
    refuseDrift(plan);
    refuseOutOfOrder(plan, options.allowOutOfOrder === true);
    refuseNoTransactionInOneTransaction(plan.pending, options.singleTransaction === true);
    const lint = await lintPending(client, plan.pending, options);
    refuseLintErrors(lint, options.allowUnsafe === true);
    await refuseEarlierRunLeftovers(client, plan.pending);
    const applied = await applyPending(client, plan.pending, options, log);
    return {
      applied,
      alreadyApplied: plan.applied.length,
      lint: { errors: lint.errors, warnings: lint.warnings },
    };
  });
}
