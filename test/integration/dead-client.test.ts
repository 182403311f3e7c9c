/**
 * A pgshift process killed mid-statement must not leave its backend running the statement with its locks held:
 * the sessions pgshift opens ask the server to check the client (client_connection_check_interval), so the
 * server ends the backend within seconds of the client's death. pg_dump and pg_restore get the same settings
 * through PGOPTIONS (lambdas/shared/db.ts libpqSessionEnv).
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { streamDumpToS3 } from '../../lambdas/backup';
import { applyMigrations, loadMigrations } from '../../lambdas/migrate';
import { pgRestoreFromStream } from '../../lambdas/restore';
import { libpqEnv } from '../../lambdas/shared/db';
import { DumpFailedError } from '../../lambdas/shared/errors';
import { silentLogger } from '../../lambdas/shared/logger';
import { pgToolPath } from '../../lambdas/shared/pgtools';
import { killMigrateWhile, waitForBackendEnd } from '../helpers/killed-migrate';
import { waitFor } from '../helpers/wait-for';
import { freshDatabase, rigStore, type TestDatabase } from '../rig/helpers';

const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:dead-client';

/** The backend of `application` on `database` that waits for a lock (it writes nothing to its client meanwhile). */
async function lockWaiter(
  client: Client,
  database: string,
  application: string,
): Promise<number | undefined> {
  const res = await client.query<{ pid: number }>(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`,
    [database, application],
  );
  return res.rows[0]?.pid;
}

/** Kills `pid` (a pg tool) and waits up to 10 s for `backend` to end while the test still holds the lock. */
async function expectBackendGoneAfterKill(client: Client, pid: number, backend: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  const killedAt = Date.now();
  await waitForBackendEnd(client, backend, 10_000);
  expect(Date.now() - killedAt).toBeLessThan(10_000);
}

describe('dead client (real PostgreSQL, real killed process)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('dead');
    client = await db.client();
  });
  afterEach(async () => {
    await client.end().catch(() => undefined);
    await db.drop();
  });

  test('a migrate killed during pg_sleep(60) leaves no backend or lock 10 s later; a new run takes the lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgshift-dead-'));
    await writeFile(join(dir, '1_slow.up.sql'), 'CREATE TABLE slow (id bigint);\nSELECT pg_sleep(60);\n');
    const { backend, killedAt } = await killMigrateWhile(client, {
      target: db.target,
      dir,
      application: 'pgshift-dead-client',
      executionId: 'child',
      busy: "query LIKE '%pg_sleep%'",
      endsWithinMs: 10_000,
    });
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    const locks = await client.query('SELECT 1 FROM pg_locks WHERE pid = $1', [backend]);
    expect(locks.rowCount).toBe(0);
    await writeFile(join(dir, '1_slow.up.sql'), 'CREATE TABLE slow (id bigint);\n');
    const result = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC });
    expect(result.applied.map((a) => a.version)).toEqual(['1']);
  }, 90_000);

  test('a pg_dump killed while its backend waits for a lock leaves no backend 10 s later', async () => {
    // Prepare: the test holds ACCESS EXCLUSIVE on a table, so the dump's backend waits without writing to its
    // socket, and only the server's client check can notice that pg_dump is gone.
    await client.query('CREATE TABLE held (id int)');
    // The lock is held by another session: within a transaction pg_stat_activity shows one frozen snapshot.
    const holder = await db.client();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE held IN ACCESS EXCLUSIVE MODE');
    let pgDump: number | undefined;
    // Act
    const dump = streamDumpToS3(
      { store: rigStore(), log: silentLogger },
      { target: db.target, executionId: 'dead-dump', onStarted: ({ pid }) => (pgDump = pid) },
    ).catch((err: unknown) => err);
    try {
      const backend = await waitFor('pg_dump to wait for the lock', 30_000, () =>
        lockWaiter(client, db.target.database, 'pgshift-backup'),
      );
      // Assess
      await expectBackendGoneAfterKill(client, pgDump as number, backend);
      expect(await dump).toBeInstanceOf(DumpFailedError);
    } finally {
      await holder.query('ROLLBACK');
    }
  }, 60_000);

  test('a pg_restore killed while its backend waits for a lock leaves no backend 10 s later', async () => {
    // Prepare: an archive of a table whose foreign key references `parent`; restoring it adds the constraint,
    // which waits for the lock the test holds on the target's `parent`.
    await client.query('CREATE TABLE parent (id int PRIMARY KEY)');
    await client.query('CREATE TABLE child (parent_id int REFERENCES parent)');
    const archive = await new Promise<Buffer>((resolve, reject) => {
      const out: Buffer[] = [];
      const p = spawn(pgToolPath('pg_dump'), ['--format=custom', '--table=child', '--no-password'], {
        env: libpqEnv(db.target),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      p.stdout.on('data', (d: Buffer) => out.push(d));
      p.once('close', (code) =>
        code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`pg_dump ${code}`)),
      );
    });
    await client.query('DROP TABLE child');
    const holder = await db.client();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE parent IN ACCESS EXCLUSIVE MODE');
    let pgRestore: number | undefined;
    // Act
    const restore = pgRestoreFromStream(Readable.from([archive]), db.target, {
      onStarted: ({ pid }) => (pgRestore = pid),
    });
    try {
      const backend = await waitFor('pg_restore to wait for the lock', 30_000, () =>
        lockWaiter(client, db.target.database, 'pgshift-restore'),
      );
      // Assess
      await expectBackendGoneAfterKill(client, pgRestore as number, backend);
      expect((await restore).ok).toBe(false);
    } finally {
      await holder.query('ROLLBACK');
    }
  }, 60_000);
});
