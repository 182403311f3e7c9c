/**
 * A database with many backups: the newest is found from the listing alone (keys name when each backup was
 * taken), so restore's `latest` reads one manifest and the report fifty, and a whole listing reads its
 * manifests a few at a time, never thousands of requests at once.
 */
import { randomBytes } from 'node:crypto';
import type { BackupManifest } from '../../lambdas/shared/manifest';
import { listBackupEntries, listBackups } from '../../lambdas/shared/manifest';
import { backupKey, manifestKeyFor } from '../../lambdas/shared/keys';
import { createS3Client, putJson, type ObjectStore } from '../../lambdas/shared/s3';
import { rigInfo, rigStore } from '../rig/helpers';

const BACKUPS = 120;

/** The store, and a count of the manifest reads it served (GetObject), the most at once included. */
function countingStore(): { store: ObjectStore; reads: { total: number; inFlight: number; most: number } } {
  const info = rigInfo();
  const s3 = createS3Client({ endpoint: info.s3.endpoint, region: info.s3.region });
  const reads = { total: 0, inFlight: 0, most: 0 };
  s3.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'GetObjectCommand') return next(args);
      reads.total += 1;
      reads.inFlight += 1;
      reads.most = Math.max(reads.most, reads.inFlight);
      try {
        return await next(args);
      } finally {
        reads.inFlight -= 1;
      }
    },
    { step: 'initialize', name: 'countManifestReads' },
  );
  return { store: { ...rigStore(), s3 }, reads };
}

describe('backup listing reads only the manifests it needs', () => {
  const database = `listing_${randomBytes(4).toString('hex')}`;
  /** Keys oldest first: one backup a minute, and a second one in the last backup's second (`_2`). */
  const keys: string[] = [];

  beforeAll(async () => {
    const store = rigStore();
    const start = Date.UTC(2026, 11, 1, 0, 0, 0);
    for (let i = 0; i < BACKUPS; i++) keys.push(backupKey(database, new Date(start + i * 60_000)));
    const last = keys[keys.length - 1] ?? '';
    keys.push(last.replace(/\.dump$/, '_2.dump'));
    for (const [i, key] of keys.entries()) {
      const manifest: BackupManifest = {
        manifestVersion: 1,
        key,
        database,
        serverVersion: '15.18',
        pgDumpVersion: '15.18',
        format: 'custom',
        compression: 'gzip:1',
        sizeBytes: 1000 + i,
        sha256: randomBytes(32).toString('hex'),
        startedAt: new Date(start + i * 60_000).toISOString(),
        finishedAt: new Date(start + i * 60_000 + 1000).toISOString(),
        durationMs: 1000,
        executionId: `listing-${i}`,
        pgshiftVersion: '0.1.0',
      };
      await putJson(store, manifestKeyFor(key), manifest);
    }
  }, 120_000);

  test("restore's latest reads one manifest: the newest backup's, found by its key", async () => {
    // Prepare
    const { store, reads } = countingStore();
    // Act
    const entries = await listBackupEntries(store, database, undefined, { newest: 1 });
    // Assert: the second backup of the last second is the newest, and it was the only manifest read
    expect(entries.map((e) => e.key)).toEqual([keys[keys.length - 1]]);
    expect(entries[0]?.manifest?.key).toBe(keys[keys.length - 1]);
    expect(reads.total).toBe(1);
  });

  test("the report's fifty newest read fifty manifests, newest first", async () => {
    const { store, reads } = countingStore();
    const manifests = await listBackups(store, database, undefined, { newest: 50 });
    expect(manifests.map((m) => m.key)).toEqual([...keys].reverse().slice(0, 50));
    expect(reads.total).toBe(50);
  });

  test('a whole listing reads every manifest, at most 16 at once', async () => {
    const { store, reads } = countingStore();
    const entries = await listBackupEntries(store, database);
    expect(entries.map((e) => e.key)).toEqual([...keys].reverse());
    expect(entries.every((e) => e.manifest !== undefined)).toBe(true);
    expect(reads.total).toBe(BACKUPS + 1);
    expect(reads.most).toBeLessThanOrEqual(16);
    expect(reads.most).toBeGreaterThan(1);
  });
});
