/**
 * A no-transaction migration whose client died (Lambda killed, process killed) never recorded a result; the
 * runner records a committed 'running' event before its first statement, and the next run, under the advisory
 * lock, records it as failed (naming the INVALID index its concurrent build left, with the fix) and refuses to
 * re-run statements that may have run unless they are idempotent. Real processes killed with SIGKILL.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { applyMigrations, loadMigrations, verifyMigrations } from '../../lambdas/migrate';
import { InterruptedMigrationError, MigrationFailedError } from '../../lambdas/shared/errors';
import { ensureHistoryTables, readHistory, type HistoryRow } from '../../lambdas/shared/history';
import { killMigrateWhile as killMigrate } from '../helpers/killed-migrate';
import { present } from '../helpers/present';
import { freshDatabase, type TestDatabase } from '../rig/helpers';

const APP = 'pgshift-interrupted';
const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:interrupted';

/**
 * Runs `applyMigrations` over `dir` in a child node process (execution id `child-run`), waits until its backend
 * matches `busy`, kills the process with SIGKILL and waits for the server to end the backend.
 */
async function killMigrateWhile(client: Client, db: TestDatabase, dir: string, busy: string): Promise<void> {
  await killMigrate(client, {
    target: db.target,
    dir,
    application: APP,
    executionId: 'child-run',
    lockTimeout: '60s',
    busy,
    endsWithinMs: 15_000,
  });
}

async function migrationsDir(): Promise<string> {
  const parent = await mkdtemp(join(tmpdir(), 'pgshift-interrupted-'));
  const dir = join(parent, 'migrations');
  await mkdir(dir);
  return dir;
}

function eventsOf(history: HistoryRow[], version: string): HistoryRow[] {
  return history.filter((h) => h.event === 'up' && h.version === version).reverse();
}

/** Version 1's events: started and interrupted, then started again and applied. */
async function expectRecordedThenApplied(client: Client): Promise<void> {
  expect(eventsOf(await readHistory(client), '1').map((h) => h.status)).toEqual([
    'running',
    'failed',
    'running',
    'succeeded',
  ]);
}

describe('interrupted no-transaction migration (real PostgreSQL, real killed process)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('intr');
    client = await db.client();
  });
  afterEach(async () => {
    await client.end().catch(() => undefined);
    await db.drop();
  });

  test('killed during CREATE INDEX CONCURRENTLY: next run records it failed with the INVALID index and its fix; after the fix it applies', async () => {
    // Prepare: a table with a writer's transaction open, so the concurrent build (its INVALID catalog entry
    // already committed) waits for that transaction.
    await client.query('CREATE TABLE items (id bigint, a int)');
    const dir = await migrationsDir();
    await writeFile(
      join(dir, '1_items_a.up.sql'),
      '-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY items_a_idx ON items (a);\n',
    );
    const writer = await db.client();
    await writer.query('BEGIN');
    await writer.query('INSERT INTO items VALUES (1, 1)');
    try {
      // Act: kill migrate while its build waits
      await killMigrateWhile(
        client,
        db,
        dir,
        "query LIKE 'CREATE INDEX CONCURRENTLY%' AND wait_event_type = 'Lock'",
      );
    } finally {
      await writer.query('ROLLBACK');
    }
    const invalid = await client.query(
      "SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'items_a_idx' AND NOT i.indisvalid",
    );
    expect(invalid.rowCount).toBe(1);
    // Before the next run: the started event only, and verify already names it
    expect(eventsOf(await readHistory(client), '1').map((h) => [h.status, h.executionId])).toEqual([
      ['running', 'child-run'],
    ]);
    const status = await verifyMigrations(client, await loadMigrations(dir));
    expect(status.failed).toEqual([
      expect.objectContaining({
        version: '1',
        invalidIndexes: [expect.objectContaining({ index: 'items_a_idx' })],
      }),
    ]);
    expect(status.problems.join('\n')).toContain('was interrupted last time');

    // Act: the next run
    const err = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC }).catch(
      (e: unknown) => e,
    );

    // Assess: refused naming the index and the fix; history has the interrupted run recorded as failed
    expect(err).toBeInstanceOf(MigrationFailedError);
    expect((err as Error).message).toContain('interrupted');
    expect((err as Error).message).toContain('DROP INDEX CONCURRENTLY IF EXISTS public.items_a_idx;');
    const events = eventsOf(await readHistory(client), '1');
    expect(events.map((h) => [h.status, h.executionId])).toEqual([
      ['running', 'child-run'],
      ['failed', 'child-run'],
    ]);
    expect(events[0]?.finishedAt).toBeNull();
    expect(events[1]?.error).toContain('the client of execution child-run died');
    expect(events[1]?.error).toContain('DROP INDEX CONCURRENTLY IF EXISTS public.items_a_idx;');
    expect(events[1]?.details).toMatchObject({ interrupted: true, recordedBy: EXEC });
    // A refused run records the interruption once, not again
    await expect(applyMigrations(client, await loadMigrations(dir), { executionId: EXEC })).rejects.toThrow(
      MigrationFailedError,
    );
    expect(eventsOf(await readHistory(client), '1')).toHaveLength(2);

    // Act: the fix, then apply: the interrupted statement was the build itself, so it runs again
    await client.query('DROP INDEX CONCURRENTLY IF EXISTS public.items_a_idx');
    const result = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC });
    expect(result.applied.map((a) => a.version)).toEqual(['1']);
    await expectRecordedThenApplied(client);
    const valid = await client.query(
      "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relname = 'items_a_idx'",
    );
    expect(valid.rows).toEqual([{ indisvalid: true }]);
  }, 120_000);

  test('killed with no INVALID index left: recorded failed; refused while its statements are not idempotent, applied once they are', async () => {
    const dir = await migrationsDir();
    const file = join(dir, '1_slow.up.sql');
    await writeFile(
      file,
      '-- pgshift:no-transaction\nCREATE TABLE slow (id bigint);\nSELECT pg_sleep(60);\n',
    );
    await killMigrateWhile(client, db, dir, "query LIKE '%pg_sleep%'");

    const err = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC }).catch(
      (e: unknown) => e,
    );

    expect(err).toBeInstanceOf(InterruptedMigrationError);
    expect((err as Error).message).toContain('the client of execution child-run died');
    expect((err as Error).message).toContain('CREATE TABLE slow (id bigint)');
    expect((err as InterruptedMigrationError).details).toMatchObject({
      version: '1',
      mayHaveRun: ['CREATE TABLE slow (id bigint)', 'SELECT pg_sleep(60)'],
    });
    const events = eventsOf(await readHistory(client), '1');
    expect(events.map((h) => h.status)).toEqual(['running', 'failed']);
    expect(events[1]?.error).toContain('which of its statements ran is unknown');
    expect(events[1]?.details).toMatchObject({ interrupted: true, invalidIndexes: [] });
    // Still refused on the next run (the file did not change)
    await expect(applyMigrations(client, await loadMigrations(dir), { executionId: EXEC })).rejects.toThrow(
      InterruptedMigrationError,
    );

    // The statement that ran, made idempotent: it runs again
    await writeFile(file, '-- pgshift:no-transaction\nCREATE TABLE IF NOT EXISTS slow (id bigint);\n');
    const result = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC });
    expect(result.applied.map((a) => a.version)).toEqual(['1']);
    await expectRecordedThenApplied(client);
  }, 120_000);

  test("a history table from before 'running' gets the wider check without a rewrite (NOT VALID), rows kept", async () => {
    await client.query('CREATE SCHEMA pgshift');
    await client.query(`CREATE TABLE pgshift.history (
      id bigserial PRIMARY KEY, event text NOT NULL, version bigint, name text, checksum text,
      status text NOT NULL CHECK (status IN ('succeeded', 'failed')),
      started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz, duration_ms integer,
      execution_id text NOT NULL, db_user text NOT NULL DEFAULT current_user, error text,
      details jsonb NOT NULL DEFAULT '{}'::jsonb)`);
    await client.query(
      "INSERT INTO pgshift.history (event, status, execution_id) VALUES ('up', 'succeeded', 'old')",
    );
    const before = await client.query<{ f: string }>("SELECT pg_relation_filenode('pgshift.history') AS f");

    await ensureHistoryTables(client);
    await ensureHistoryTables(client);

    const check = await client.query<{ def: string; convalidated: boolean }>(
      `SELECT pg_get_constraintdef(oid) AS def, convalidated FROM pg_constraint
        WHERE conrelid = 'pgshift.history'::regclass AND contype = 'c'`,
    );
    expect(check.rows).toHaveLength(1);
    expect(check.rows[0]?.def).toContain('running');
    expect(check.rows[0]?.convalidated).toBe(false);
    const after = await client.query<{ f: string }>("SELECT pg_relation_filenode('pgshift.history') AS f");
    expect(after.rows[0]?.f).toBe(present(before.rows[0], 'the filenode before').f);
    await client.query(
      "INSERT INTO pgshift.history (event, status, execution_id) VALUES ('up', 'running', 'new')",
    );
    expect((await readHistory(client)).map((h) => h.status)).toEqual(['running', 'succeeded']);
  });
});
