/**
 * A backup streamed through a proxy in front of the S3 stand-in (test/rig/*-s3-proxy.ts): ~25 MB of
 * uncompressed dump (80,000 seeded rows of 300 bytes) in 5 MiB parts, so the multipart path is taken.
 */
import { randomBytes } from 'node:crypto';
import { streamDumpToS3, type DumpOptions } from '../../lambdas/backup';
import { silentLogger } from '../../lambdas/shared/logger';
import { createS3Client, type ObjectStore } from '../../lambdas/shared/s3';
import { rigInfo, rigStore, seedRows, type TestDatabase } from './helpers';

const MIB = 1024 * 1024;

/**
 * Seeds `db`, then backs it up through `proxy` (`options` override the 5 MiB parts, one in flight).
 * `outcome` is the BackupResult, or what the backup threw.
 */
export async function seededBackupThrough(
  proxy: { endpoint: string },
  db: TestDatabase,
  options: Partial<DumpOptions> = {},
): Promise<{ outcome: unknown; rig: ObjectStore }> {
  await seedRows(db.target, 80000, { textBytes: 300 });
  const rig = rigStore();
  const store = { ...rig, s3: createS3Client({ endpoint: proxy.endpoint, region: rigInfo().s3.region }) };
  const outcome = await streamDumpToS3(
    { store, log: silentLogger },
    {
      target: db.target,
      executionId: `test-${randomBytes(4).toString('hex')}`,
      compression: 'none',
      partSize: 5 * MIB,
      queueSize: 1,
      ...options,
    },
  ).catch((err: unknown) => err);
  return { outcome, rig };
}
