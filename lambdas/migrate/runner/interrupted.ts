/**
 * Runs whose client died: a no-transaction migration whose 'running' event has no result after it. The next
 * run (under the migration lock, so none is live) records each as failed, and refuses to re-run one whose
 * statements may have run and are not safe to run twice.
 */
import type { ClientBase } from 'pg';
import { HISTORY_TABLE, historyTablesExist, recordHistoryEvent } from '../../shared/history';
import { statementsOf } from '../files';
import { idempotentForm } from '../statements';
import type { Migration, ParsedStatement } from '../types';
import { findInvalidIndexes, indexesBuilt, invalidIndexAdvice, type InvalidIndex } from './invalid-index';

/** A no-transaction migration whose run stopped with no result recorded (its client died). */
export interface InterruptedMigration {
  version: string;
  name: string;
  checksum: string;
  executionId: string;
  startedAt: string;
  invalidIndexes: InvalidIndex[];
}

/**
 * 'up' events still 'running' with no later 'up' event for their version. Only meaningful while holding the
 * migration lock (or when none is held): otherwise the run may be live.
 */
export async function findUnfinishedRuns(
  client: ClientBase,
): Promise<
  { id: string; version: string; name: string; checksum: string; executionId: string; startedAt: string }[]
> {
  if (!(await historyTablesExist(client))) return [];
  const res = await client.query<{
    id: string;
    version: string;
    name: string;
    checksum: string;
    execution_id: string;
    started_at: Date;
  }>(
    `SELECT r.id::text AS id, r.version::text AS version, r.name, r.checksum, r.execution_id, r.started_at
       FROM ${HISTORY_TABLE} r
      WHERE r.event = 'up' AND r.status = 'running'
        AND NOT EXISTS (SELECT 1 FROM ${HISTORY_TABLE} l WHERE l.event = 'up' AND l.version = r.version AND l.id > r.id)
      ORDER BY r.id`,
  );
  return res.rows.map((r) => ({
    id: r.id,
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    executionId: r.execution_id,
    startedAt: new Date(r.started_at).toISOString(),
  }));
}

/** What `recordInterrupted` writes as the failure's error text (verify says the same). */
export function interruptedMessage(
  r: { version: string; name: string; executionId: string; startedAt: string },
  invalid: InvalidIndex[],
): string {
  return (
    `Migration ${r.version} ${r.name} was interrupted: the client of execution ${r.executionId} died or was stopped ` +
    `while running it (started ${r.startedAt}), so no result was recorded. It ran outside a transaction ` +
    `(-- pgshift:no-transaction): which of its statements ran is unknown, and those that ran stayed.` +
    invalidIndexAdvice(invalid)
  );
}

/** Records each unfinished run as failed (in the name of the execution that ran it); call under the lock. */
export async function recordInterrupted(
  client: ClientBase,
  migrations: Migration[],
  executionId: string,
): Promise<InterruptedMigration[]> {
  const out: InterruptedMigration[] = [];
  for (const r of await findUnfinishedRuns(client)) {
    const m = migrations.find((x) => x.version === r.version);
    const invalidIndexes = m
      ? await findInvalidIndexes(client, indexesBuilt(statementsOf(m.up, m.file)))
      : [];
    await recordHistoryEvent(client, {
      event: 'up',
      status: 'failed',
      executionId: r.executionId,
      version: r.version,
      name: r.name,
      checksum: r.checksum,
      startedAt: new Date(r.startedAt),
      error: interruptedMessage(r, invalidIndexes),
      details: { interrupted: true, runningEventId: r.id, recordedBy: executionId, invalidIndexes },
    });
    out.push({ ...r, invalidIndexes });
  }
  return out;
}

/** The interrupted run a version's latest 'up' event records. */
export interface InterruptedAttempt {
  executionId: string;
  startedAt: string;
  checksum: string;
  /** INVALID indexes it had left when the next run recorded it (they name the statement that was running). */
  invalidIndexes: InvalidIndex[];
}

/** Per version, the interrupted failure when it is the latest 'up' event of that version. */
export async function lastInterrupted(client: ClientBase): Promise<Map<string, InterruptedAttempt>> {
  const res = await client.query<{
    version: string;
    execution_id: string;
    started_at: Date;
    checksum: string;
    details: { invalidIndexes?: InvalidIndex[] };
  }>(
    `SELECT version, execution_id, started_at, checksum, details FROM (
       SELECT DISTINCT ON (version) version::text AS version, status, execution_id, started_at, checksum, details
         FROM ${HISTORY_TABLE} WHERE event = 'up' AND version IS NOT NULL ORDER BY version, id DESC) last
      WHERE status = 'failed' AND details ->> 'interrupted' = 'true'`,
  );
  return new Map(
    res.rows.map((r) => [
      r.version,
      {
        executionId: r.execution_id,
        startedAt: new Date(r.started_at).toISOString(),
        checksum: r.checksum,
        invalidIndexes: r.details.invalidIndexes ?? [],
      },
    ]),
  );
}

/**
 * The statements an interrupted run may have run. Statements run in order and the client died during one: when
 * it left an INVALID index, the statement building it was the one running, so only those before it ran (and
 * its own leftover is gone once dropped). Otherwise any of them may have.
 */
export function mayHaveRun(statements: ParsedStatement[], attempt: InterruptedAttempt): ParsedStatement[] {
  const running = statements.findIndex((s) =>
    indexesBuilt([s]).some((b) => attempt.invalidIndexes.some((i) => i.index === b.index)),
  );
  return running >= 0 ? statements.slice(0, running) : statements;
}

/**
 * Safe to run again whether or not it ran before: an IF [NOT] EXISTS form (or SET). Kinds without such a form
 * (INSERT, UPDATE, SELECT f()...) are not. (CREATE INDEX ... IF NOT EXISTS skips an INVALID leftover, which
 * the runner refuses first.)
 */
export function isRerunnable(s: ParsedStatement): boolean {
  return idempotentForm(s.node) === true;
}
