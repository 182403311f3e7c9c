/**
 * How the backup reads pg_dump's output (lambdas/backup/dump-output.ts): a FIFO read by the event loop into one
 * reused buffer. A pg_dump that dies before it opens the FIFO must fail the backup, not hang it; a silent pg_dump
 * must not hold the process's libuv threadpool (shared with fs and crypto, worker threads included); without
 * `mkfifo` the backup still runs, through pg_dump's stdout. Real PostgreSQL 15, pg_dump, the S3 stand-in.
 */
import { pbkdf2 } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Worker } from 'node:worker_threads';
import { ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { streamDumpToS3 } from '../../lambdas/backup';
import { DumpFailedError } from '../../lambdas/shared/errors';
import { backupPrefix } from '../../lambdas/shared/keys';
import { captureLogger } from '../../lambdas/shared/logger';
import { pgToolPath } from '../../lambdas/shared/pgtools';
import { listKeys } from '../../lambdas/shared/s3';
import { fetchObject, freshDatabase, rigInfo, seedRows, type TestDatabase } from '../rig/helpers';
import { rigDeps, testExecutionId as run } from '../helpers/rig-deps';

const { store, deps } = rigDeps();

async function nothingWritten(database: string): Promise<boolean> {
  const keys = await listKeys(store, backupPrefix(database));
  const pending = await store.s3.send(
    new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: backupPrefix(database) }),
  );
  return keys.length === 0 && (pending.Uploads ?? []).length === 0;
}

/** A PGSHIFT_PG_BIN whose pg_dump runs `script` (sh) for the dump itself; --version answers as the real one. */
function pgDumpWrapper(dir: string, fifoParent: string, script: string): NodeJS.ProcessEnv {
  const real = pgToolPath('pg_dump');
  writeFileSync(
    join(dir, 'pg_dump'),
    `#!/bin/sh\nif [ "$1" = "--version" ]; then exec ${real} --version; fi\n${script.replace(/REAL/g, real)}\n`,
  );
  chmodSync(join(dir, 'pg_dump'), 0o755);
  symlinkSync(pgToolPath('pg_restore'), join(dir, 'pg_restore'));
  return { PGSHIFT_PG_BIN: dir, TMPDIR: fifoParent };
}

describe('backup: reading pg_dump through a FIFO', () => {
  let db: TestDatabase;
  let work: string;
  let fifoParent: string;
  beforeEach(async () => {
    db = await freshDatabase('bkf');
    work = mkdtempSync(join(tmpdir(), 'pgshift-fifo-test-'));
    // The FIFO's private directory is made under os.tmpdir(): a directory of the test's own, to see it removed.
    // (jest's process.env is the test's copy: the directory goes in through the backup's tool environment.)
    fifoParent = mkdtempSync(join(tmpdir(), 'pgshift-fifo-parent-'));
  });
  afterEach(async () => {
    rmSync(work, { recursive: true, force: true });
    rmSync(fifoParent, { recursive: true, force: true });
    await db.drop();
  });

  test.each([
    [
      'exits 1',
      'echo "pg_dump: error: refused before writing" >&2; exit 1',
      /pg_dump exited with code 1: pg_dump: error: refused before writing/,
    ],
    ['is killed', 'kill -9 $$', /pg_dump was killed by SIGKILL/],
  ])(
    'a pg_dump that %s before it opens the FIFO fails the backup at once (no hang), leaving nothing',
    async (_case, script, message) => {
      // Prepare
      const toolEnv = pgDumpWrapper(work, fifoParent, script);
      const started = Date.now();
      // Act
      const err = await streamDumpToS3({ ...deps, toolEnv }, { target: db.target, executionId: run() }).catch(
        (e: unknown) => e,
      );
      // Assess
      expect(err).toBeInstanceOf(DumpFailedError);
      expect(err).toMatchObject({ message: expect.stringMatching(message) });
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(await nothingWritten(db.name)).toBe(true);
      expect(readdirSync(fifoParent)).toEqual([]);
    },
    30_000,
  );

  test('four backups whose pg_dump is silent for 4 s hold no threadpool thread: fs and crypto work goes on', async () => {
    // Prepare: pg_dump sleeps before it opens the FIFO, as one waiting for a lock would before it writes.
    await seedRows(db.target, 200);
    const toolEnv = pgDumpWrapper(work, fifoParent, 'sleep 4; exec REAL "$@"');
    const started = Date.now();
    // Act: four backups (the threadpool has four threads), then work that needs the pool.
    const backups = [1, 2, 3, 4].map(() =>
      streamDumpToS3({ ...deps, toolEnv }, { target: db.target, executionId: run() }),
    );
    await new Promise((resolve) => setTimeout(resolve, 500));
    await Promise.all([
      promisify(pbkdf2)('secret', 'salt', 1, 32, 'sha256'),
      readFile(__filename),
      promisify(pbkdf2)('secret', 'salt', 1, 32, 'sha256'),
    ]);
    const poolWorkDone = Date.now() - started;
    const results = await Promise.all(backups);
    // Assess: the pool answered while every pg_dump still slept; the backups are whole.
    expect(poolWorkDone).toBeLessThan(3_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_000);
    for (const result of results) {
      expect((await fetchObject(store, result.key)).sha256).toBe(result.manifest.sha256);
    }
    expect(readdirSync(fifoParent)).toEqual([]);
  }, 60_000);

  test('backups in worker threads (as pgshift local runs functions) with a silent pg_dump leave the pool free', async () => {
    // Prepare: each worker loads the backup through tsx (outside jest), as the CLI's function workers do.
    await seedRows(db.target, 200);
    const toolEnv = { ...pgDumpWrapper(work, fifoParent, 'sleep 3; exec REAL "$@"') };
    const { s3 } = rigInfo();
    const started = Date.now();
    // Act
    const backups = [1, 2, 3, 4].map(
      () =>
        new Promise<unknown>((resolve, reject) => {
          const worker = new Worker(
            `require('tsx/cjs/api').register(); require(${JSON.stringify(join(__dirname, '../helpers/backup-in-worker.ts'))});`,
            { eval: true, workerData: { target: db.target, s3, toolEnv } },
          );
          worker.once('message', (m: unknown) => {
            resolve(m);
            void worker.terminate();
          });
          worker.once('error', reject);
        }),
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await Promise.all([promisify(pbkdf2)('secret', 'salt', 1, 32, 'sha256'), readFile(__filename)]);
    const poolWorkDone = Date.now() - started;
    const results = await Promise.all(backups);
    // Assess
    expect(poolWorkDone).toBeLessThan(2_500);
    for (const result of results) expect(result).toMatchObject({ ok: true });
    expect(readdirSync(fifoParent)).toEqual([]);
  }, 90_000);

  test('without mkfifo on PATH the backup reads pg_dump’s stdout instead, byte for byte', async () => {
    // Prepare: a PATH with the PostgreSQL tools but no mkfifo.
    await seedRows(db.target, 500);
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(pgToolPath('pg_dump'), join(bin, 'pg_dump'));
    symlinkSync(pgToolPath('pg_restore'), join(bin, 'pg_restore'));
    const log = captureLogger();
    // Act
    const result = await streamDumpToS3(
      { ...deps, log, toolEnv: { PGSHIFT_PG_BIN: bin, PATH: bin, TMPDIR: fifoParent } },
      { target: db.target, executionId: run() },
    );
    // Assess
    expect(log.lines.find((l) => l.message === 'backup started')?.extra).toMatchObject({
      dumpOutput: 'pipe',
    });
    const object = await fetchObject(store, result.key);
    expect(object.sha256).toBe(result.manifest.sha256);
    expect(object.bytes.length).toBe(result.manifest.sizeBytes);
  });

  test('with mkfifo the backup says it reads a FIFO, and the object is the manifest’s', async () => {
    // Prepare
    await seedRows(db.target, 500);
    const log = captureLogger();
    // Act
    const result = await streamDumpToS3(
      { ...deps, log, toolEnv: { ...process.env, TMPDIR: fifoParent } },
      { target: db.target, executionId: run() },
    );
    // Assess
    expect(log.lines.find((l) => l.message === 'backup started')?.extra).toMatchObject({
      dumpOutput: 'fifo',
    });
    expect((await fetchObject(store, result.key)).sha256).toBe(result.manifest.sha256);
    expect(readdirSync(fifoParent)).toEqual([]);
  });

  test('the FIFO exists while pg_dump writes and is removed after', async () => {
    // Prepare
    await seedRows(db.target, 200);
    const seen: string[][] = [];
    // Act
    await streamDumpToS3(
      { ...deps, toolEnv: { ...process.env, TMPDIR: fifoParent } },
      {
        target: db.target,
        executionId: run(),
        onStarted: () => seen.push(readdirSync(fifoParent).flatMap((d) => readdirSync(join(fifoParent, d)))),
      },
    );
    // Assess
    expect(seen).toEqual([['dump.fifo']]);
    expect(readdirSync(fifoParent)).toEqual([]);
  });
});
