/**
 * The size probe the runner choice reads (lambdas/preflight/size.ts) against the rig: the catalog's database
 * size, and for a restore the backup resolved as the restore core resolves it (`latest` included).
 */
import { createBackup } from '../../lambdas/backup';
import { probeSize, RESTORE_EXPANSION, restoredSizeEstimate } from '../../lambdas/preflight/size';
import { connect, queryOneRow, withDatabaseName } from '../../lambdas/shared/db';
import { BackupNotFoundError, RestoreRefusedError } from '../../lambdas/shared/errors';
import { silentLogger } from '../../lambdas/shared/logger';
import { freshDatabase, rigStore, seedRows, type TestDatabase } from '../rig/helpers';

const store = rigStore();

describe('size probe (real PostgreSQL, S3 stand-in)', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('size');
    await seedRows(db.target, 500);
  });
  afterEach(async () => {
    await db.drop();
  });

  test("a backup's probe is the database's size as the catalog has it", async () => {
    // Act
    const probe = await probeSize({ connect: () => connect(db.target, 'pgshift-size') });
    // Assess
    const c = await db.client();
    const { bytes } = await queryOneRow<{ bytes: string }>(
      c,
      'SELECT pg_database_size(current_database()) AS bytes',
    );
    expect(probe).toEqual({ databaseSizeBytes: Number(bytes) });
  });

  test("a restore's probe resolves `latest` to the newest backup and adds its estimated restored size", async () => {
    // Prepare
    const deps = { store, log: silentLogger };
    await createBackup(deps, { target: db.target, executionId: 'size-1' });
    const newest = await createBackup(deps, {
      target: db.target,
      executionId: 'size-2',
      compression: 'none',
    });
    // Act
    const probe = await probeSize(
      { connect: () => connect(db.target, 'pgshift-size'), store },
      { restore: { connected: db.name, database: db.name, confirm: db.name, backup: 'latest' } },
    );
    // Assess
    expect(probe.backupKey).toBe(newest.key);
    expect(probe.backupSizeBytes).toBe(newest.manifest.sizeBytes);
    expect(probe.backupCompression).toBe('none');
    expect(probe.restoreSizeBytes).toBe(probe.databaseSizeBytes + newest.manifest.sizeBytes);
    expect(probe.databaseSizeBytes).toBeGreaterThan(0);
  });

  test('a compressed dump counts RESTORE_EXPANSION times its size; an uncompressed one its own size', () => {
    expect(restoredSizeEstimate(1000, 'gzip:1')).toBe(1000 * RESTORE_EXPANSION);
    expect(restoredSizeEstimate(1000, 'zstd:3')).toBe(1000 * RESTORE_EXPANSION);
    expect(restoredSizeEstimate(1000, 'none')).toBe(1000);
  });

  test('a restore onto a database that does not exist measures it as empty', async () => {
    // Prepare
    const backup = await createBackup(
      { store, log: silentLogger },
      { target: db.target, executionId: 'size-3' },
    );
    const gone = withDatabaseName(db.target, `${db.name}_gone`);
    // Act
    const probe = await probeSize(
      { connect: () => connect(gone, 'pgshift-size'), store },
      { restore: { connected: gone.database, database: db.name, confirm: db.name, backup: backup.key } },
    );
    // Assess
    expect(probe.databaseSizeBytes).toBe(0);
    expect(probe.restoreSizeBytes).toBe(
      restoredSizeEstimate(backup.manifest.sizeBytes, backup.manifest.compression),
    );
  });

  test("a restore of `latest` with no backup fails with the restore's own BackupNotFoundError", async () => {
    await expect(
      probeSize(
        { connect: () => connect(db.target, 'pgshift-size'), store },
        {
          restore: {
            connected: db.name,
            database: `${db.name}_never_backed_up`,
            confirm: db.name,
            backup: 'latest',
          },
        },
      ),
    ).rejects.toBeInstanceOf(BackupNotFoundError);
  });

  test('a restore without the confirmation is refused as the restore refuses it, before any backup is read', async () => {
    // No backup exists either: the refusal for the missing confirmation comes first, as in the restore core.
    const probe = probeSize(
      { connect: () => connect(db.target, 'pgshift-size'), store },
      { restore: { connected: db.name, database: db.name, confirm: undefined, backup: 'latest' } },
    );
    await expect(probe).rejects.toBeInstanceOf(RestoreRefusedError);
  });
});
