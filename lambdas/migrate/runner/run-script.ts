/**
 * The one statement loop: a script (up or down) run as pgshift frames it (framing.ts), with its bookkeeping and
 * its failure recorded. Apply in its own transaction, apply inside the run's single transaction, apply outside
 * any transaction and revert all go through `runScript`.
 */
import { basename } from 'node:path';
import type { ClientBase } from 'pg';
import { PgshiftError } from '../../shared/errors';
import { cappedStatementTimeoutMs, durationMs, type TimeBudget } from '../budget';
import { scriptSteps, SESSION_RESETS, type Framing, type TimeoutOptions } from '../framing';
import type { Migration, MigrationScript, ParsedStatement } from '../types';
import { findInvalidIndexes, indexesBuilt } from './invalid-index';
import { migrationError } from './pg-errors';
import { recordApplied, recordFailure, recordReverted, recordRunning } from './record';

export interface RunScriptOptions extends TimeoutOptions {
  direction: 'up' | 'down';
  /**
   * For a script that runs in a transaction: its own (BEGIN … COMMIT here, ROLLBACK and the failure recorded
   * here) or the run's single one (the caller commits, rolls back and records). A no-transaction script has none.
   */
  framing: Framing;
  /** Recorded as applied_by and in history. */
  executionId: string;
  /** Lambda's time: statement_timeout is lowered to what is left (see capStatementTimeout). */
  budget?: TimeBudget;
}

/**
 * Before each statement under a budget: statement_timeout lowered to the time left, so PostgreSQL cancels the
 * statement (and the migration rolls back or is recorded as failed) before Lambda kills the client.
 */
async function capStatementTimeout(
  client: ClientBase,
  budget: TimeBudget | undefined,
  configured: string,
  scope: 'local' | 'session',
): Promise<void> {
  if (!budget) return;
  const ms = cappedStatementTimeoutMs(configured, budget, (budget.now ?? Date.now)());
  // Only when it lowers the framing's value: while the configured timeout fits, apply sends exactly the SQL the
  // dry run printed (docs/migrations.md); once lowered it only goes lower, as the time left shrinks.
  if (ms === durationMs(configured)) return;
  await client.query(`SET ${scope === 'local' ? 'LOCAL ' : ''}statement_timeout = ${ms}`);
}

/** The file a script's messages name: the up script's file, or the down script's own (dbmate: the same). */
function fileOf(m: Migration, script: MigrationScript, direction: 'up' | 'down'): string {
  return direction === 'up' ? m.file : basename(script.path) || m.file;
}

/**
 * Runs one script and records its result in the same transaction as its effect (for a no-transaction script,
 * in a transaction of its own right after its last statement). On failure the error is pgshift's (pg-errors.ts),
 * with `partial` meaning one thing for every direction: the script ran outside a transaction, so nothing was
 * rolled back (see FailureState.partial).
 */
export async function runScript(
  client: ClientBase,
  m: Migration,
  script: MigrationScript,
  options: RunScriptOptions,
): Promise<void> {
  const { direction, executionId } = options;
  const outer = !script.noTransaction && options.framing === 'outer-transaction';
  const { steps, statements, lockTimeout, statementTimeout } = scriptSteps(
    m,
    script,
    options,
    options.framing,
  );
  if (script.noTransaction && direction === 'up')
    await recordRunning(client, m, executionId, statements.length);
  const started = Date.now();
  let current: ParsedStatement | undefined;
  try {
    for (const step of steps) {
      current = step.statement;
      if (step.statement) {
        const scope = script.noTransaction ? 'session' : 'local';
        await capStatementTimeout(client, options.budget, statementTimeout, scope);
      }
      await client.query(step.sql);
    }
    current = undefined;
    if (script.noTransaction) await client.query('BEGIN');
    const record = direction === 'up' ? recordApplied : recordReverted;
    await record(client, m, executionId, Date.now() - started);
    if (!outer) await client.query('COMMIT');
  } catch (err) {
    if (!outer) await client.query('ROLLBACK').catch(() => undefined);
    if (err instanceof PgshiftError) {
      if (!outer) await recordFailure(client, m, executionId, err, direction);
      throw err;
    }
    const invalidIndexes = script.noTransaction
      ? await findInvalidIndexes(client, indexesBuilt(statements)).catch(() => [])
      : [];
    const error = migrationError(m, fileOf(m, script, direction), current, err, {
      lockTimeout,
      partial: script.noTransaction,
      invalidIndexes,
      statements,
    });
    if (!outer) await recordFailure(client, m, executionId, error, direction);
    throw error;
  } finally {
    if (script.noTransaction) {
      for (const sql of SESSION_RESETS) await client.query(sql).catch(() => undefined);
    }
  }
}
