/**
 * Two backups of one database in the same second share a name: the second must never overwrite the first.
 * pgshift checks the name is free first, then writes create-only (`If-None-Match: *`), which S3 refuses for a
 * key that exists. The rig's S3 stand-in ignores that header on writes, so S3's conditional writes are stood in
 * by a proxy (test/rig/conditional-s3-proxy.ts); each test's name says so.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createBackup, type BackupResult } from '../../lambdas/backup';
import { cleanupRestoreCopies, listRestoreCopies, restoreDatabase } from '../../lambdas/restore';
import { BackupKeyTakenError } from '../../lambdas/shared/errors';
import { backupPrefix, manifestKeyFor } from '../../lambdas/shared/keys';
import { getText, listKeys, type ObjectStore } from '../../lambdas/shared/s3';
import { rigDeps, testExecutionId } from '../helpers/rig-deps';
import { freshDatabase, rigInfo, rigStore, seedRows, tableChecksum, type TestDatabase } from '../rig/helpers';
import { startConditionalS3Proxy, type ConditionalProxy } from '../rig/conditional-s3-proxy';
import { seededBackupThrough } from '../rig/proxied-backup';

const OTHER_BACKUP = `the other backup's bytes ${randomBytes(8).toString('hex')}`;

/** Another backup finishing first: its object written straight to the store, under `key`. */
async function otherBackupTakes(store: ObjectStore, key: string): Promise<void> {
  await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: key, Body: OTHER_BACKUP }));
}

/** The conditional proxy, where another backup takes the first dump key created through it (pushed to `taken`). */
function proxyWhereAnotherBackupTakesFirstDump(
  store: ObjectStore,
  taken: string[],
): Promise<ConditionalProxy> {
  return startConditionalS3Proxy(rigInfo().s3.endpoint, {
    beforeCreate: async (key) => {
      if (!key.endsWith('.dump') || taken.length > 0) return;
      taken.push(key);
      await otherBackupTakes(store, key);
    },
  });
}

describe('backup: another backup takes the same name meanwhile (S3 conditional writes stood in by a proxy)', () => {
  let db: TestDatabase;
  let proxy: ConditionalProxy | undefined;
  beforeEach(async () => {
    db = await freshDatabase('bkrace');
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await db.drop();
  });

  test.each([
    { path: 'multipart (CompleteMultipartUpload)', partSize: 5 * 1024 * 1024 },
    { path: 'one part (PutObject)', partSize: 64 * 1024 * 1024 },
  ])(
    'the $path write is refused: BackupKeyTakenError, the other backup intact, nothing of this one left',
    async ({ partSize }) => {
      // Prepare: the other backup takes the name just before this one creates its object.
      const rig = rigStore();
      const takenKeys: string[] = [];
      proxy = await proxyWhereAnotherBackupTakesFirstDump(rig, takenKeys);
      // Act
      const { outcome } = await seededBackupThrough(proxy, db, { partSize, queueSize: 2 });
      // Assert: the refusal is named for the person on call, with the key and what to do
      expect(outcome).toBeInstanceOf(BackupKeyTakenError);
      const err = outcome as BackupKeyTakenError;
      const [key] = takenKeys;
      expect(key).toBeDefined();
      expect(err.message).toContain(
        `Backup of "${db.name}" failed: another backup of this database wrote ${key} first`,
      );
      expect(err.message).toContain('so the other backup is intact');
      expect(err.message).toContain('Nothing of this backup was left. Run the backup again');
      expect(err.details).toMatchObject({ database: db.name, key, refused: 'dump' });
      expect(proxy.refused).toEqual([key]);
      // The other backup's object is untouched; no manifest, no second object, no open upload.
      expect(await getText(rig, key ?? '')).toBe(OTHER_BACKUP);
      expect((await listKeys(rig, backupPrefix(db.name))).map((k) => k.key)).toEqual([key]);
      expect(proxy.aborts).toBe(partSize === 5 * 1024 * 1024 ? 1 : 0);
    },
    120_000,
  );

  test("the manifest's write is refused: BackupKeyTakenError, the dump removed, the other manifest intact", async () => {
    // Prepare: another writer puts a manifest at this backup's manifest key just before it is written.
    const rig = rigStore();
    const other = `{"written by": "another backup ${randomBytes(4).toString('hex')}"}`;
    proxy = await startConditionalS3Proxy(rigInfo().s3.endpoint, {
      beforeCreate: async (key) => {
        if (key.endsWith('.manifest.json')) {
          await rig.s3.send(new PutObjectCommand({ Bucket: rig.bucket, Key: key, Body: other }));
        }
      },
    });
    // Act
    const { outcome } = await seededBackupThrough(proxy, db, { queueSize: 2 });
    // Assert
    expect(outcome).toBeInstanceOf(BackupKeyTakenError);
    const err = outcome as BackupKeyTakenError;
    expect(err.details).toMatchObject({ database: db.name, refused: 'manifest' });
    expect(err.details.left).toBeUndefined();
    expect(err.message).toContain('S3 refused to overwrite its manifest');
    expect(err.message).toContain('Nothing of this backup was left');
    const key = String(err.details.key);
    // The dump this backup completed is gone; the other writer's manifest is as it was.
    expect((await listKeys(rig, backupPrefix(db.name))).map((k) => k.key)).toEqual([manifestKeyFor(key)]);
    expect(await getText(rig, manifestKeyFor(key))).toBe(other);
  }, 120_000);

  test("a restore whose pre-restore backup loses its name fails with BackupKeyTakenError before touching anything; run again (the state machine's Retry), it restores", async () => {
    // Prepare: a backup to restore, then a change to the data; the other backup takes the name of the first
    // pre-restore backup just before it is created.
    await seedRows(db.target, 500, { textBytes: 100 });
    const direct = rigDeps().deps;
    const backup = await createBackup(direct, { target: db.target, executionId: testExecutionId() });
    const backedUp = await tableChecksum(db.target, 'items');
    await seedRows(db.target, 50, { textBytes: 100 });
    const changed = await tableChecksum(db.target, 'items');
    const rig = rigStore();
    const takenKeys: string[] = [];
    proxy = await proxyWhereAnotherBackupTakesFirstDump(rig, takenKeys);
    const { deps } = rigDeps(proxy.endpoint);
    const restore = () =>
      restoreDatabase(deps, {
        target: db.target,
        backup: backup.key,
        confirm: db.name,
        executionId: testExecutionId(),
      });
    try {
      // Act
      const first = await restore().catch((err: unknown) => err);
      // Assert: the error the state machine's Retry matches by name, and the database as it was
      expect(first).toBeInstanceOf(BackupKeyTakenError);
      expect((first as Error).name).toBe('BackupKeyTakenError');
      expect(await tableChecksum(db.target, 'items')).toEqual(changed);
      expect(await listRestoreCopies(db.target)).toEqual([]);
      // Act: the retry
      const second = await restore();
      // Assert: restored, its pre-restore backup under another name, the other backup intact
      expect(await tableChecksum(db.target, 'items')).toEqual(backedUp);
      const [taken] = takenKeys;
      expect(second.preRestoreBackup?.key).toBeDefined();
      expect(second.preRestoreBackup?.key).not.toBe(taken);
      expect(await getText(rig, taken ?? '')).toBe(OTHER_BACKUP);
    } finally {
      await cleanupRestoreCopies(direct, {
        target: db.target,
        executionId: 'test-cleanup',
        skipConfirm: true,
      });
    }
  }, 120_000);

  test('a retried create whose first attempt went through is the backup’s own: it completes, once', async () => {
    // Prepare: the first response of each create-only write (the dump's complete, the manifest) is lost.
    proxy = await startConditionalS3Proxy(rigInfo().s3.endpoint, { loseFirstResponse: true });
    // Act
    const { outcome, rig } = await seededBackupThrough(proxy, db, { queueSize: 2 });
    // Assert: the SDK's retries found the key taken by this very backup (its upload token, its manifest's
    // text) and the backup succeeded with its manifest describing the object.
    expect(outcome).not.toBeInstanceOf(Error);
    const result = outcome as BackupResult;
    expect(proxy.lost).toEqual([result.key, manifestKeyFor(result.key)]);
    expect(proxy.refused).toEqual([result.key, manifestKeyFor(result.key)]);
    expect(proxy.aborts).toBe(0);
    const manifest: unknown = JSON.parse(await getText(rig, manifestKeyFor(result.key)));
    expect(manifest).toMatchObject({ key: result.key, sha256: result.manifest.sha256 });
    expect((await listKeys(rig, backupPrefix(db.name))).map((k) => k.key).sort()).toEqual(
      [result.key, manifestKeyFor(result.key)].sort(),
    );
  }, 120_000);
});
