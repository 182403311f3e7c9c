/** What the runner writes to pgshift's tables about a script's run: running, applied, reverted, failed. */
import type { ClientBase } from 'pg';
import type { PgshiftError } from '../../shared/errors';
import { MIGRATIONS_TABLE, recordHistoryEvent } from '../../shared/history';
import type { Migration } from '../types';

/**
 * Committed before a no-transaction script's first statement (each statement commits on its own): if this
 * client dies, the next run finds a 'running' event with no result after it and records it as interrupted.
 */
export async function recordRunning(
  client: ClientBase,
  m: Migration,
  executionId: string,
  statements: number,
): Promise<void> {
  await recordHistoryEvent(client, {
    event: 'up',
    status: 'running',
    executionId,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    details: { noTransaction: true, statements },
  });
}

/** The 'succeeded' history event of an apply ('up') or a revert ('down'). */
async function recordSucceeded(
  client: ClientBase,
  event: 'up' | 'down',
  m: Migration,
  executionId: string,
  durationMs: number,
): Promise<void> {
  await recordHistoryEvent(client, {
    event,
    status: 'succeeded',
    executionId,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    durationMs,
  });
}

export async function recordApplied(
  client: ClientBase,
  m: Migration,
  executionId: string,
  durationMs: number,
): Promise<void> {
  await client.query(
    `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, duration_ms, applied_by, direction)
     VALUES ($1, $2, $3, $4, $5, 'up')`,
    [m.version, m.name, m.checksum, durationMs, executionId],
  );
  await recordSucceeded(client, 'up', m, executionId, durationMs);
}

export async function recordReverted(
  client: ClientBase,
  m: Migration,
  executionId: string,
  durationMs: number,
): Promise<void> {
  await client.query(`DELETE FROM ${MIGRATIONS_TABLE} WHERE version = $1`, [m.version]);
  await recordSucceeded(client, 'down', m, executionId, durationMs);
}

/** Best effort: the failure being reported matters more than a history row that could not be written. */
export async function recordFailure(
  client: ClientBase,
  m: Migration,
  executionId: string,
  error: PgshiftError,
  direction: 'up' | 'down',
): Promise<void> {
  await recordHistoryEvent(client, {
    event: direction,
    status: 'failed',
    executionId,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    error: error.message,
    details: error.details,
  }).catch(() => undefined);
}
