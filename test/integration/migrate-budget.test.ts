/**
 * Apply and downgrade under a time budget (what the migrate handler builds from Lambda's remaining time), on a
 * real PostgreSQL: the runner stops between migrations with MigrationTimeBudgetError naming what was applied
 * and what is pending, keeps what it applied recorded, and lowers statement_timeout to the time left.
 */
import type { Client } from 'pg';
import { applyMigrations, downgradeMigrations, loadMigrations } from '../../lambdas/migrate';
import { durationMs, type TimeBudget } from '../../lambdas/migrate/budget';
import { MigrationFailedError, MigrationTimeBudgetError } from '../../lambdas/shared/errors';
import { readAppliedMigrations, readHistory } from '../../lambdas/shared/history';
import { freshDatabase, type TestDatabase } from '../rig/helpers';
import { migrationFolder as folder } from '../helpers/migration-folder';
import { present } from '../helpers/present';

const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:budget-test';

/** A budget of `remainingMs` from now on the real clock. */
function budget(remainingMs: number, marginMs: number, estimates: Record<string, number> = {}): TimeBudget {
  return { deadline: Date.now() + remainingMs, marginMs, estimates };
}

async function capturedTimeout(client: Client, table: string): Promise<number> {
  const res = await client.query<{ v: string }>(`SELECT v FROM ${table}`);
  return durationMs(present(res.rows[0], `a row of ${table}`).v);
}

const FILES = {
  // Each records the statement_timeout its statement ran under.
  '000001_one.up.sql': "CREATE TABLE one AS SELECT current_setting('statement_timeout') AS v;\n",
  '000001_one.down.sql': 'DROP TABLE one;\n',
  '000002_two.up.sql':
    "-- pgshift:no-transaction\nCREATE TABLE two AS SELECT current_setting('statement_timeout') AS v;\n",
  '000002_two.down.sql': 'DROP TABLE two;\n',
  '000003_three.up.sql': 'CREATE TABLE three (id int);\n',
  '000003_three.down.sql': 'DROP TABLE three;\n',
};

describe('apply and downgrade under a time budget (real PostgreSQL)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('budget');
    client = await db.client();
  });
  afterEach(async () => db.drop());

  test('stops between migrations, names applied and pending, keeps what ran recorded, caps statement_timeout', async () => {
    // Prepare: 2 minutes left, a 60 s margin; migration 3 is estimated at 90 s.
    const migrations = await loadMigrations(await folder(FILES));
    // Act
    const stopped = await applyMigrations(client, migrations, {
      executionId: EXEC,
      statementTimeout: '13min',
      budget: budget(120_000, 60_000, { '3_three': 90 }),
    }).catch((err: unknown) => err);
    // Assess: 1 and 2 ran (each under statement_timeout lowered to ~60 s), 3 never started.
    expect(stopped).toBeInstanceOf(MigrationTimeBudgetError);
    const e = stopped as MigrationTimeBudgetError;
    expect(e.name).toBe('MigrationTimeBudgetError');
    expect(e.message).toContain('Applied in this run and recorded: 1_one, 2_two');
    expect(e.message).toContain('still pending: 3_three');
    expect(e.details).toMatchObject({
      applied: [
        { version: '1', name: 'one' },
        { version: '2', name: 'two' },
      ],
      pending: [{ version: '3', name: 'three', estimatedSeconds: 90 }],
      marginMs: 60_000,
    });
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1', '2']);
    const one = await capturedTimeout(client, 'one');
    const two = await capturedTimeout(client, 'two');
    expect(one).toBeLessThanOrEqual(60_000);
    expect(one).toBeGreaterThan(50_000);
    expect(two).toBeLessThanOrEqual(one);
    const three = await client.query<{ absent: boolean }>(`SELECT to_regclass('three') IS NULL AS absent`);
    expect(three.rows[0]?.absent).toBe(true);
    expect((await readHistory(client)).filter((h) => h.status === 'failed')).toEqual([]);
    // The no-transaction migration's session setting was reset after it.
    const session = await client.query<{ v: string }>(`SELECT current_setting('statement_timeout') AS v`);
    expect(session.rows[0]?.v).toBe('0');

    // Act: the continuation (Fargate: no budget) applies only what is pending.
    const rest = await applyMigrations(client, migrations, { executionId: EXEC });
    // Assess
    expect(rest.applied.map((a) => a.version)).toEqual(['3']);
    expect(rest.alreadyApplied).toBe(2);
  });

  test('a migration that does not fit is not started even when it is the first', async () => {
    // Prepare
    const migrations = await loadMigrations(await folder(FILES));
    // Act
    const stopped = await applyMigrations(client, migrations, {
      executionId: EXEC,
      budget: budget(30_000, 60_000),
    }).catch((err: unknown) => err);
    // Assess
    expect(stopped).toBeInstanceOf(MigrationTimeBudgetError);
    expect((stopped as Error).message).toContain('Applied in this run and recorded: none');
    expect(await readAppliedMigrations(client)).toEqual([]);
  });

  test('the lowered statement_timeout cancels a statement that would outlive the runner', async () => {
    // Prepare: ~3 s before the margin; the statement sleeps 20 s and has no estimate.
    const migrations = await loadMigrations(
      await folder({ '000001_sleepy.up.sql': 'SELECT pg_sleep(20);\nCREATE TABLE sleepy (id int);\n' }),
    );
    const started = Date.now();
    // Act
    const failed = await applyMigrations(client, migrations, {
      executionId: EXEC,
      statementTimeout: '13min',
      budget: budget(63_000, 60_000),
    }).catch((err: unknown) => err);
    // Assess: cancelled by PostgreSQL (57014) well before the 20 s, rolled back, recorded as failed.
    expect(failed).toBeInstanceOf(MigrationFailedError);
    expect((failed as MigrationFailedError).details.sqlState).toBe('57014');
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(await readAppliedMigrations(client)).toEqual([]);
  });

  test('downgrade stops between reverts; continued with the same steps, it reverts only what is left', async () => {
    // Prepare
    const migrations = await loadMigrations(await folder(FILES));
    await applyMigrations(client, migrations, { executionId: 'earlier-run' });
    // Act: steps 2, but only the first revert fits.
    const stopped = await downgradeMigrations(client, migrations, {
      executionId: EXEC,
      steps: 2,
      stepsIncludeEarlierReverts: true,
      budget: { ...budget(120_000, 60_000, { '2_two': 0 }), now: stepClock(Date.now(), [0, 80_000]) },
    }).catch((err: unknown) => err);
    // Assess
    expect(stopped).toBeInstanceOf(MigrationTimeBudgetError);
    expect((stopped as Error).message).toContain('Reverted in this run and recorded: 3_three');
    expect((stopped as MigrationTimeBudgetError).details).toMatchObject({
      reverted: [{ version: '3', name: 'three' }],
      pending: [{ version: '2', name: 'two' }],
    });
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1', '2']);

    // Act: the continuation (same execution, same steps) reverts one more, not two.
    const rest = await downgradeMigrations(client, migrations, {
      executionId: EXEC,
      steps: 2,
      stepsIncludeEarlierReverts: true,
    });
    // Assess
    expect(rest.reverted.map((r) => r.version)).toEqual(['2']);
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1']);
  });
});

/** A clock that moves on by the given offsets at each reading (the last one repeats). */
function stepClock(start: number, offsets: number[]): () => number {
  let i = 0;
  return () => start + present(offsets[Math.min(i++, offsets.length - 1)], 'a clock offset');
}
