/**
 * The backup core against the rig: real PostgreSQL 15, real pg_dump/pg_restore, the S3 stand-in.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createBackup, listBackups, streamDumpToS3, verifyBackup } from '../../lambdas/backup';
import {
  libpqEnv,
  quoteIdent,
  withClient,
  withDatabaseName,
  type DatabaseTarget,
} from '../../lambdas/shared/db';
import {
  BackupCorruptError,
  DatabaseConnectionError,
  DumpFailedError,
  PgVersionMismatchError,
} from '../../lambdas/shared/errors';
import { backupPrefix, manifestKeyFor } from '../../lambdas/shared/keys';
import { captureLogger } from '../../lambdas/shared/logger';
import { pgToolPath } from '../../lambdas/shared/pgtools';
import { isNotFound, listKeys, putJson, type ObjectStore } from '../../lambdas/shared/s3';
import {
  dropDatabase,
  fetchObject,
  freshDatabase,
  rigInfo,
  rigTarget,
  seedRows,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';
import { rigDeps, testExecutionId as run } from '../helpers/rig-deps';

const { store, deps } = rigDeps();

/** Restores an archive (bytes) into an existing database with the real pg_restore. */
async function pgRestoreInto(target: DatabaseTarget, archive: Buffer): Promise<void> {
  const child = spawn(
    pgToolPath('pg_restore'),
    [
      `--dbname=dbname='${target.database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`,
      '--no-owner',
      '--exit-on-error',
    ],
    { env: libpqEnv(target) },
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdin.end(archive);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  if (code !== 0) throw new Error(`pg_restore failed (${code}): ${stderr}`);
}

/** True when nothing at all (object, manifest, pending multipart upload) exists for this database's backups. */
async function nothingWritten(s: ObjectStore, database: string): Promise<boolean> {
  const keys = await listKeys(s, backupPrefix(database));
  const pending = await s.s3.send(
    new ListMultipartUploadsCommand({ Bucket: s.bucket, Prefix: backupPrefix(database) }),
  );
  return keys.length === 0 && (pending.Uploads ?? []).length === 0;
}

async function exists(s: ObjectStore, key: string): Promise<boolean> {
  const res = await s.s3.send(new HeadObjectCommand({ Bucket: s.bucket, Key: key })).catch((e: unknown) => e);
  if (isNotFound(res)) return false;
  if (res instanceof Error) throw res;
  return true;
}

describe('backup: streamed pg_dump to S3', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('bk');
  });
  afterEach(async () => db.drop());

  test('round trip: the object is byte-identical to the manifest and pg_restore reproduces every table', async () => {
    // Prepare
    await seedRows(db.target, 3000, { textBytes: 150 });
    await seedRows(db.target, 500, { table: 'other', textBytes: 40 });
    const before = [await tableChecksum(db.target, 'items'), await tableChecksum(db.target, 'other')];
    // Act
    const result = await createBackup(deps, { target: db.target, executionId: run(), verify: true });
    // Assess
    const back = await fetchObject(store, result.key);
    expect(back.sha256).toBe(result.manifest.sha256);
    expect(back.bytes.length).toBe(result.manifest.sizeBytes);
    expect(back.bytes.subarray(0, 5).toString()).toBe('PGDMP');
    expect(result.manifest).toMatchObject({ database: db.name, format: 'custom', compression: 'gzip:1' });
    expect(result.verified?.tocEntries).toBeGreaterThan(2);
    expect(result.key).toMatch(
      new RegExp(`^backups/${db.name}/\\d{4}/\\d{2}/\\d{2}/pg_backup_\\d{8}_\\d{6}\\.dump$`),
    );
    expect((await listBackups(store, db.name)).map((m) => m.key)).toEqual([result.key]);
    const copy = await freshDatabase('bkcopy');
    try {
      await withClient(copy.target, (c) => c.query('DROP TABLE IF EXISTS items, other'));
      await pgRestoreInto(copy.target, back.bytes);
      expect([await tableChecksum(copy.target, 'items'), await tableChecksum(copy.target, 'other')]).toEqual(
        before,
      );
    } finally {
      await copy.drop();
    }
  });

  test('two backups started in the same second keep both (the second gets a _2 suffix)', async () => {
    // Prepare
    await seedRows(db.target, 100);
    const at = new Date('2026-11-25T10:00:00Z');
    // Act
    const first = await streamDumpToS3(deps, { target: db.target, executionId: run(), now: () => at });
    const second = await streamDumpToS3(deps, { target: db.target, executionId: run(), now: () => at });
    // Assess
    expect(first.key).toBe(`backups/${db.name}/2026/11/25/pg_backup_20261125_100000.dump`);
    expect(second.key).toBe(`backups/${db.name}/2026/11/25/pg_backup_20261125_100000_2.dump`);
    expect((await fetchObject(store, first.key)).sha256).toBe(first.manifest.sha256);
    expect((await listBackups(store, db.name)).length).toBe(2);
  });

  test('pg_dump killed mid-stream leaves no object, no manifest and no pending multipart upload', async () => {
    // Prepare: ~30 MB uncompressed, so several 5 MiB parts are in flight when pg_dump dies.
    await seedRows(db.target, 100000, { textBytes: 300 });
    let killed = false;
    let pid = 0;
    // Act
    const err = await streamDumpToS3(deps, {
      target: db.target,
      executionId: run(),
      compression: 'none',
      partSize: 5 * 1024 * 1024,
      onStarted: (p) => (pid = p.pid),
      onProgress: (bytes) => {
        if (!killed && bytes > 6 * 1024 * 1024) {
          killed = true;
          process.kill(pid, 'SIGKILL');
        }
      },
    }).catch((e: unknown) => e);
    // Assess
    expect(killed).toBe(true);
    expect(err).toBeInstanceOf(DumpFailedError);
    expect((err as Error).message).toMatch(/pg_dump was killed by SIGKILL/);
    expect(await nothingWritten(store, db.name)).toBe(true);
  });

  test('pg_dump failing after it connected (permission denied) leaves no empty object behind', async () => {
    // Prepare: a login role that may connect but not read the table, so pg_dump exits 1 with clean stdout.
    const role = `bk_reader_${randomBytes(3).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await seedRows(db.target, 10);
    await withClient(rigTarget(), (c) => c.query(`CREATE ROLE ${role} LOGIN PASSWORD '${password}'`));
    try {
      const target = { ...db.target, user: role, password };
      // Act
      const err = await streamDumpToS3(deps, { target, executionId: run() }).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(DumpFailedError);
      expect((err as Error).message).toMatch(/pg_dump exited with code 1: .*permission denied/);
      expect(await nothingWritten(store, db.name)).toBe(true);
    } finally {
      await withClient(rigTarget(), async (c) => {
        await c.query(`DROP OWNED BY ${role}`);
        await c.query(`DROP ROLE ${role}`);
      }).catch(() => undefined);
    }
  });

  test.each([
    [
      'wrong password',
      (t: DatabaseTarget) => ({ ...t, password: 'not-the-password' }),
      /password authentication failed/,
    ],
    ['unreachable host', (t: DatabaseTarget) => ({ ...t, host: '127.0.0.1', port: 1 }), /Cannot connect/],
    [
      'missing database',
      (t: DatabaseTarget) => withDatabaseName(t, `${t.database}_missing`),
      /does not exist/,
    ],
  ])('%s: a DatabaseConnectionError and nothing written', async (_case, change, message) => {
    const target = change(db.target);
    const err = await streamDumpToS3(deps, { target, database: db.name, executionId: run() }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseConnectionError);
    expect((err as Error).message).toMatch(message);
    expect(await nothingWritten(store, db.name)).toBe(true);
  });

  test('a pg_dump older than the server (a wrapper script reporting 13.14) is refused naming both versions', async () => {
    // Prepare: only PostgreSQL 15 is installed, so a wrapper stands in for an old pg_dump's --version.
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-old-pgdump-'));
    try {
      writeFileSync(
        join(dir, 'pg_dump'),
        `#!/bin/sh\nif [ "$1" = "--version" ]; then echo "pg_dump (PostgreSQL) 13.14"; exit 0; fi\nexec ${pgToolPath('pg_dump')} "$@"\n`,
      );
      chmodSync(join(dir, 'pg_dump'), 0o755);
      symlinkSync(pgToolPath('pg_restore'), join(dir, 'pg_restore'));
      // Act
      const err = await streamDumpToS3(
        { ...deps, toolEnv: { PGSHIFT_PG_BIN: dir } },
        { target: db.target, executionId: run() },
      ).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(PgVersionMismatchError);
      expect((err as Error).message).toMatch(/pg_dump 13\.14 is older than the server \(15\.\d+/);
      expect(await nothingWritten(store, db.name)).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('no password in argv, logs or errors, for a backup that succeeds and one that fails', async () => {
    // Prepare
    const password = rigInfo().pg.password;
    expect(password.length).toBeGreaterThan(3);
    await seedRows(db.target, 100);
    const log = captureLogger();
    let cmdline = '';
    // Act
    await streamDumpToS3(
      { store, log },
      {
        target: db.target,
        executionId: run(),
        onStarted: ({ pid }) => (cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8')),
      },
    );
    const err = (await streamDumpToS3(
      { store, log },
      { target: { ...db.target, port: 1, host: '127.0.0.1' }, executionId: run() },
    ).catch((e: unknown) => e)) as DatabaseConnectionError;
    // Assess
    expect(cmdline).toContain('--format=custom');
    expect(cmdline).not.toContain(password);
    expect(log.lines.length).toBeGreaterThan(1);
    expect(log.text()).not.toContain(password);
    expect(`${err.message} ${JSON.stringify(err.toJSON())}`).not.toContain(password);
  });

  test('verifyBackup refuses a truncated object whose manifest says otherwise', async () => {
    // Prepare
    await seedRows(db.target, 2000, { textBytes: 100 });
    const good = await createBackup(deps, { target: db.target, executionId: run() });
    const bytes = (await fetchObject(store, good.key)).bytes;
    const truncatedKey = good.key.replace(/\.dump$/, '_truncated.dump');
    await store.s3.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: truncatedKey,
        Body: bytes.subarray(0, bytes.length - 100),
      }),
    );
    await putJson(store, manifestKeyFor(truncatedKey), { ...good.manifest, key: truncatedKey });
    // Act
    const err = await verifyBackup(deps, { key: truncatedKey }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(BackupCorruptError);
    expect((err as Error).message).toMatch(/size .* manifest says/);
    expect(await exists(store, good.key)).toBe(true);
  });
});

describe('backup: names with spaces, quotes, unicode and mixed case', () => {
  const name = `Bäck "Up" ${randomBytes(3).toString('hex')} Ωmega`;
  const table = `Mixed "Case" tàble`;
  const copyName = `${name} copy`;
  afterAll(async () => {
    await dropDatabase(name);
    await dropDatabase(copyName);
  });

  test('a database and a table with such names are backed up, listed and restored', async () => {
    // Prepare
    await withClient(rigTarget(), async (c) => {
      await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
      await c.query(`CREATE DATABASE ${quoteIdent(copyName)}`);
    });
    const target = rigTarget(name);
    await seedRows(target, 200, { table });
    const before = await tableChecksum(target, table);
    // Act
    const result = await createBackup(deps, { target, executionId: run(), verify: true });
    // Assess
    expect(result.key.startsWith(`backups/${name}/`)).toBe(true);
    expect((await listBackups(store, name))[0]?.database).toBe(name);
    await pgRestoreInto(rigTarget(copyName), (await fetchObject(store, result.key)).bytes);
    expect(await tableChecksum(rigTarget(copyName), table)).toEqual(before);
  });
});
