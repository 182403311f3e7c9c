/**
 * A manifest is trusted only for the object it sits beside: `<key>.manifest.json` must describe `<key>`, and
 * that exact object's sha256 and size are checked. `latest` never falls back silently past a newest backup
 * that fails verification, and `verifyBackups` says which backups are sound.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  createBackup,
  listBackupEntries,
  verifyBackup,
  verifyBackups,
  type BackupResult,
} from '../../lambdas/backup';
import { cleanupRestoreCopies, restoreDatabase } from '../../lambdas/restore';
import { withClient } from '../../lambdas/shared/db';
import { manifestKeyFor } from '../../lambdas/shared/keys';
import { putJson, putText } from '../../lambdas/shared/s3';
import { fetchObject, freshDatabase, seedRows, tableChecksum, type TestDatabase } from '../rig/helpers';
import { rigDeps, testExecutionId as run } from '../helpers/rig-deps';
import { flipByteNearEnd } from '../helpers/corrupt';

const { store, deps } = rigDeps();

describe('backup manifests are trusted only for their own object', () => {
  let db: TestDatabase;
  let older: BackupResult;
  let newer: BackupResult;
  beforeEach(async () => {
    // Prepare: two backups of different data (the newer one an hour later), then the data changes again.
    db = await freshDatabase('mt');
    await seedRows(db.target, 500);
    older = await createBackup(deps, { target: db.target, executionId: run() });
    await withClient(db.target, (c) => c.query('DELETE FROM items WHERE id > 100'));
    newer = await createBackup(deps, {
      target: db.target,
      executionId: run(),
      now: () => new Date(Date.now() + 3600e3),
    });
    await withClient(db.target, (c) => c.query('DELETE FROM items WHERE id > 10'));
  });
  afterEach(async () => {
    await cleanupRestoreCopies(deps, { target: db.target, executionId: 'test-cleanup', skipConfirm: true });
    await db.drop();
  });

  const restore = (backup: string) =>
    restoreDatabase(deps, { target: db.target, backup, confirm: db.name, executionId: run() });

  test('restore <key> whose manifest describes another object is refused (BackupCorruptError, exit 3) and restores nothing', async () => {
    // Prepare: the newer backup's manifest replaced by a copy of the older one's.
    await putJson(store, newer.manifestKey, older.manifest);
    const before = await tableChecksum(db.target, 'items');
    // Act
    const err = await restore(newer.key).catch((e: unknown) => e);
    // Assess
    expect(err).toMatchObject({ name: 'BackupCorruptError', outcome: 'refused' });
    expect((err as Error).message).toContain(`${newer.key}.manifest.json describes ${older.key}`);
    expect(await tableChecksum(db.target, 'items')).toEqual(before);
    await expect(verifyBackup(deps, { key: newer.key })).rejects.toMatchObject({
      name: 'BackupCorruptError',
    });
  });

  test('restore latest refuses a newest backup whose manifest describes another object, naming it', async () => {
    await putJson(store, newer.manifestKey, older.manifest);
    const before = await tableChecksum(db.target, 'items');
    const err = await restore('latest').catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'BackupCorruptError', outcome: 'refused' });
    expect((err as Error).message).toContain(newer.key);
    expect((err as Error).message).toMatch(/not fall back/);
    expect(await tableChecksum(db.target, 'items')).toEqual(before);
  });

  test('restore latest refuses a newest backup whose dump is corrupt or whose manifest is unreadable', async () => {
    // Prepare: one byte of the newer dump flipped (same size, manifest untouched).
    const bytes = Buffer.from((await fetchObject(store, newer.key)).bytes);
    flipByteNearEnd(bytes);
    await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: newer.key, Body: bytes }));
    const before = await tableChecksum(db.target, 'items');
    // Act + Assess
    const corrupt = await restore('latest').catch((e: unknown) => e);
    expect(corrupt).toMatchObject({ name: 'BackupCorruptError' });
    expect((corrupt as Error).message).toContain(newer.key);
    expect((corrupt as Error).message).toMatch(/sha256/);
    // An unreadable manifest is no reason to pick the older backup either.
    await putText(store, newer.manifestKey, '{"manifestVersion": 1, "key": ', 'application/json');
    const unreadable = await restore('latest').catch((e: unknown) => e);
    expect(unreadable).toMatchObject({ name: 'BackupCorruptError' });
    expect((unreadable as Error).message).toContain(newer.key);
    expect(await tableChecksum(db.target, 'items')).toEqual(before);
    // The older backup, named explicitly, still restores.
    const ok = await restore(older.key);
    expect(ok.backupKey).toBe(older.key);
    expect((await tableChecksum(db.target, 'items')).rows).toBe(500);
  });

  test('verifyBackups lists every backup, newest first, with whether it is sound and why not', async () => {
    // Prepare: a third backup whose manifest points at the older object.
    const third = await createBackup(deps, {
      target: db.target,
      executionId: run(),
      now: () => new Date(Date.now() + 7200e3),
    });
    await putJson(store, manifestKeyFor(third.key), older.manifest);
    const bytes = Buffer.from((await fetchObject(store, newer.key)).bytes);
    flipByteNearEnd(bytes);
    await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: newer.key, Body: bytes }));
    // Act
    const list = await verifyBackups(deps, db.name);
    // Assess
    expect(list.map((b) => [b.key, b.sound])).toEqual([
      [third.key, false],
      [newer.key, false],
      [older.key, true],
    ]);
    expect(list[0]?.problem).toContain(`describes ${older.key}`);
    expect(list[1]?.problem).toMatch(/sha256/);
    expect(list[2]).toMatchObject({ sha256: older.manifest.sha256, sizeBytes: older.manifest.sizeBytes });
  });

  test('newest first by when the backup was taken, the tenth backup of a second after the ninth', async () => {
    // Prepare: manifests only (ordering reads no dump), keys as unusedKey names them within one second.
    const base = `backups/${db.name}/2030/01/02/pg_backup_20300102_030405`;
    const keys = [`${base}.dump`, `${base}_2.dump`, `${base}_9.dump`, `${base}_10.dump`];
    for (const key of keys) await putJson(store, manifestKeyFor(key), { ...older.manifest, key });
    // Act
    const entries = await listBackupEntries(store, db.name);
    // Assess
    expect(entries.slice(0, 4).map((e) => e.key)).toEqual([...keys].reverse());
    expect(entries.slice(4).map((e) => e.key)).toEqual([newer.key, older.key]);
  });
});
