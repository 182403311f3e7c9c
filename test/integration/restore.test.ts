/**
 * Restore against the rig: real PostgreSQL 15, real pg_dump/pg_restore, the S3 stand-in.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createBackup, listBackups } from '../../lambdas/backup';
import { cleanupRestoreCopies, listRestoreCopies, restoreDatabase } from '../../lambdas/restore';
import { withClient } from '../../lambdas/shared/db';
import { BackupCorruptError, RestoreFailedError, RestoreRefusedError } from '../../lambdas/shared/errors';
import { readHistory } from '../../lambdas/shared/history';
import { manifestKeyFor } from '../../lambdas/shared/keys';
import { putJson } from '../../lambdas/shared/s3';
import {
  fetchObject,
  freshDatabase,
  rigTarget,
  seedRows,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';
import { rigDeps, testExecutionId as run } from '../helpers/rig-deps';
import { flipByteNearEnd } from '../helpers/corrupt';

const { store, deps } = rigDeps();

async function checksums(db: TestDatabase): Promise<unknown[]> {
  return [await tableChecksum(db.target, 'items'), await tableChecksum(db.target, 'other')];
}

/** Everything a refused or failed restore must leave exactly as it was. */
async function state(db: TestDatabase): Promise<unknown> {
  return {
    tables: await checksums(db),
    backups: (await listBackups(store, db.name)).length,
    copies: await listRestoreCopies(db.target),
  };
}

describe('restore', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('rs');
    await seedRows(db.target, 2000, { textBytes: 100 });
    await seedRows(db.target, 300, { table: 'other' });
  });
  afterEach(async () => {
    await cleanupRestoreCopies(deps, { target: db.target, executionId: 'test-cleanup', skipConfirm: true });
    await db.drop();
  });

  test('round trip: every table matches the backup, the old database is kept until cleanup, history records it', async () => {
    // Prepare: back up, then change the data.
    const expected = await checksums(db);
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    await withClient(db.target, async (c) => {
      await c.query('DELETE FROM items WHERE id % 3 = 0');
      await c.query(`UPDATE other SET body = 'changed'`);
    });
    const changed = await checksums(db);
    // Act
    const result = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm: db.name,
      executionId: 'restore-exec-1',
    });
    // Assess
    expect(await checksums(db)).toEqual(expected);
    expect(result.backupKey).toBe(backup.key);
    expect(result.previousDatabase).toMatch(new RegExp(`^${db.name}__pgshift_before_\\d{8}_\\d{6}$`));
    const previous = { ...db, target: rigTarget(result.previousDatabase as string) };
    expect(await checksums(previous)).toEqual(changed);
    expect((await listBackups(store, db.name)).map((m) => m.key)).toContain(result.preRestoreBackup?.key);
    const history = await withClient(db.target, (c) => readHistory(c));
    expect(history[0]).toMatchObject({
      event: 'restore',
      status: 'succeeded',
      executionId: 'restore-exec-1',
    });
    expect(history[0]?.details).toMatchObject({
      backupKey: backup.key,
      preRestoreBackup: result.preRestoreBackup?.key,
    });
    // Cleanup needs its own confirmation, then drops the kept copy.
    await expect(
      cleanupRestoreCopies(deps, { target: db.target, executionId: run(), confirm: 'nope' }),
    ).rejects.toBeInstanceOf(RestoreRefusedError);
    const cleaned = await cleanupRestoreCopies(deps, {
      target: db.target,
      executionId: run(),
      confirm: db.name,
    });
    expect(cleaned.dropped.map((d) => d.name)).toEqual([result.previousDatabase]);
    expect(await listRestoreCopies(db.target)).toEqual([]);
  });

  test.each([
    ['missing confirm', undefined],
    ['wrong confirm', 'production'],
  ])('%s refuses and changes nothing', async (_case, confirm) => {
    // Prepare
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    const before = await state(db);
    // Act
    const err = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm,
      executionId: run(),
    }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(RestoreRefusedError);
    expect((err as Error).message).toContain(`set confirm to the database name ("${db.name}")`);
    expect(await state(db)).toEqual(before);
  });

  test('a corrupt backup (sha256 differs from its manifest) is refused and changes nothing', async () => {
    // Prepare: same size, one byte flipped near the end (past the table of contents).
    const good = await createBackup(deps, { target: db.target, executionId: run() });
    const bytes = Buffer.from((await fetchObject(store, good.key)).bytes);
    flipByteNearEnd(bytes);
    const badKey = good.key.replace(/\.dump$/, '_flipped.dump');
    await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: badKey, Body: bytes }));
    await putJson(store, manifestKeyFor(badKey), { ...good.manifest, key: badKey });
    const before = await state(db);
    // Act
    const err = await restoreDatabase(deps, {
      target: db.target,
      backup: badKey,
      confirm: db.name,
      executionId: run(),
    }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(BackupCorruptError);
    expect((err as Error).message).toMatch(/sha256 [0-9a-f]{64}, manifest says/);
    expect(await state(db)).toEqual(before);
  });

  test('a backup of another database is refused unless allowOtherDatabase is set', async () => {
    // Prepare
    const other = await freshDatabase('rsother');
    try {
      await seedRows(other.target, 10);
      const foreign = await createBackup(deps, { target: other.target, executionId: run() });
      const before = await state(db);
      // Act
      const err = await restoreDatabase(deps, {
        target: db.target,
        backup: foreign.key,
        confirm: db.name,
        executionId: run(),
      }).catch((e: unknown) => e);
      // Assess
      expect(err).toBeInstanceOf(RestoreRefusedError);
      expect((err as Error).message).toContain(`is of database "${other.name}"`);
      expect(await state(db)).toEqual(before);
      const allowed = await restoreDatabase(deps, {
        target: db.target,
        backup: foreign.key,
        confirm: db.name,
        allowOtherDatabase: true,
        executionId: run(),
      });
      expect(allowed.backupKey).toBe(foreign.key);
      expect((await tableChecksum(db.target, 'items')).rows).toBe(10);
    } finally {
      await other.drop();
    }
  });

  test('pg_restore killed mid-way: RestoreFailedError, the original keeps serving its data, no copy left', async () => {
    // Prepare: an application session that must survive the failed restore.
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    const app = await db.client();
    const tables = await checksums(db);
    // Act
    const err = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm: db.name,
      executionId: run(),
      hooks: { onRestoreStarted: ({ pid }) => process.kill(pid, 'SIGKILL') },
    }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(RestoreFailedError);
    expect((err as Error).message).toMatch(/pg_restore was killed by SIGKILL|reading the backup failed/);
    expect((err as Error).message).toContain('The original database is untouched and serving');
    expect((await app.query<{ n: number }>('SELECT count(*)::int AS n FROM items')).rows[0]?.n).toBe(2000);
    expect(await checksums(db)).toEqual(tables);
    expect(await listRestoreCopies(db.target)).toEqual([]);
    const history = await withClient(db.target, (c) => readHistory(c));
    expect(history[0]).toMatchObject({ event: 'restore', status: 'failed' });
  });

  test('pg_restore failing after the data loaded (GRANT to a role that no longer exists) leaves the original serving', async () => {
    // Prepare: the backup carries a GRANT; the role is gone by restore time, so pg_restore fails at the ACLs.
    const role = `rs_gone_${randomBytes(3).toString('hex')}`;
    await withClient(rigTarget(), (c) => c.query(`CREATE ROLE ${role}`));
    await withClient(db.target, (c) => c.query(`GRANT SELECT ON items TO ${role}`));
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    await withClient(db.target, (c) => c.query(`DROP OWNED BY ${role}`));
    await withClient(rigTarget(), (c) => c.query(`DROP ROLE ${role}`));
    const tables = await checksums(db);
    // Act
    const err = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm: db.name,
      executionId: run(),
    }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(RestoreFailedError);
    expect((err as Error).message).toMatch(
      new RegExp(`pg_restore exited with code 1: .*role "${role}" does not exist`, 's'),
    );
    expect(await checksums(db)).toEqual(tables);
    expect(await listRestoreCopies(db.target)).toEqual([]);
  });

  test('"latest" picks the newest backup with a manifest and ignores a newer dump without one', async () => {
    // Prepare: a complete backup, then a newer bare dump (of changed data) with no manifest.
    const expected = await checksums(db);
    const complete = await createBackup(deps, { target: db.target, executionId: run() });
    await withClient(db.target, (c) => c.query('DELETE FROM items WHERE id > 100'));
    const newer = await createBackup(deps, {
      target: db.target,
      executionId: run(),
      now: () => new Date(Date.now() + 3600e3),
    });
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: newer.manifestKey }));
    expect((await fetchObject(store, newer.key)).bytes.length).toBe(newer.manifest.sizeBytes);
    // Act
    const result = await restoreDatabase(deps, {
      target: db.target,
      backup: 'latest',
      confirm: db.name,
      executionId: run(),
    });
    // Assess
    expect(result.backupKey).toBe(complete.key);
    expect(await checksums(db)).toEqual(expected);
  });

  test('open application connections are terminated only at the swap, and counted', async () => {
    // Prepare
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    const app = await db.client();
    let aliveBeforeSwap = false;
    // Act
    const result = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm: db.name,
      executionId: run(),
      hooks: {
        beforeSwap: async () => {
          aliveBeforeSwap = (await app.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one === 1;
        },
      },
    });
    // Assess
    expect(aliveBeforeSwap).toBe(true);
    expect(result.terminatedConnections).toBe(1);
    await expect(app.query('SELECT 1')).rejects.toThrow();
    expect((await tableChecksum(db.target, 'items')).rows).toBe(2000);
  });
});
