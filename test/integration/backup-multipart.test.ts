/**
 * A backup of several parts through pgshift's multipart writer, seen on the wire (a recording proxy in front
 * of the S3 stand-in): with one part in flight and two buffers, pg_dump's output is paused and resumed many
 * times, and still the object is the dump byte for byte; SSE-KMS on the upload, a CRC32 S3 checks on every part.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';
import { crc32Base64 } from '../../lambdas/backup/multipart';
import type { BackupResult } from '../../lambdas/backup';
import { DumpFailedError } from '../../lambdas/shared/errors';
import { backupPrefix } from '../../lambdas/shared/keys';
import { listKeys } from '../../lambdas/shared/s3';
import { fetchObject, freshDatabase, rigInfo, type TestDatabase } from '../rig/helpers';
import { seededBackupThrough } from '../rig/proxied-backup';
import { startRefusingS3Proxy, type RefusingProxy } from '../rig/refusing-s3-proxy';

const MIB = 1024 * 1024;

describe('backup: multipart upload of a larger dump', () => {
  let db: TestDatabase;
  let proxy: RefusingProxy;
  beforeEach(async () => {
    db = await freshDatabase('bkmp');
    // Refuses nothing: it only records what the client sends.
    proxy = await startRefusingS3Proxy(rigInfo().s3.endpoint, { fromPart: Number.MAX_SAFE_INTEGER });
  });
  afterEach(async () => {
    await proxy.close();
    await db.drop();
  });

  test('parts of 5 MiB, never more than one in flight: the object is the dump byte for byte, each part carries a CRC32, the upload SSE-KMS', async () => {
    // Prepare / Act: ~25 MB uncompressed, so five or more parts.
    const progress: number[] = [];
    const { outcome, rig } = await seededBackupThrough(proxy, db, { onProgress: (b) => progress.push(b) });
    const result = outcome as BackupResult;
    // Assess
    const back = await fetchObject(rig, result.key);
    expect(back.bytes.length).toBe(result.manifest.sizeBytes);
    expect(back.sha256).toBe(result.manifest.sha256);
    expect(createHash('sha256').update(back.bytes).digest('hex')).toBe(result.manifest.sha256);
    expect(progress.at(-1)).toBe(result.manifest.sizeBytes);
    const parts = proxy.requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url));
    expect(parts.length).toBe(Math.ceil(result.manifest.sizeBytes / (5 * MIB)));
    expect(parts.length).toBeGreaterThanOrEqual(5);
    expect(proxy.maxPartsInFlight).toBe(1);
    for (const p of parts) {
      // The CRC32 of exactly this part's bytes (computed as they were copied in): S3 refuses a part whose
      // bytes do not match it (BadDigest).
      const partNumber = Number(/[?&]partNumber=(\d+)/.exec(p.url)?.[1]);
      const partBytes = back.bytes.subarray((partNumber - 1) * 5 * MIB, partNumber * 5 * MIB);
      expect(p.headers['x-amz-checksum-crc32']).toBe(crc32Base64(crc32(partBytes)));
      expect(p.headers['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
      expect(String(p.headers.authorization)).toMatch(/SignedHeaders=[^,]*x-amz-checksum-crc32/);
    }
    const create = proxy.requests.filter((r) => r.method === 'POST' && /[?&]uploads/.test(r.url));
    expect(create).toHaveLength(1);
    expect(create[0]?.headers['x-amz-server-side-encryption']).toBe('aws:kms');
    expect(create[0]?.headers['x-amz-server-side-encryption-aws-kms-key-id']).toBe(rig.kmsKeyId);
    expect(create[0]?.headers['x-amz-checksum-algorithm']).toBe('CRC32');
    // The manifest is written after the object is complete.
    const complete = proxy.requests.findIndex((r) => r.method === 'POST' && /[?&]uploadId=/.test(r.url));
    const manifest = proxy.requests.findIndex((r) => r.method === 'PUT' && r.url.includes('.manifest.json'));
    expect(complete).toBeGreaterThan(-1);
    expect(manifest).toBeGreaterThan(complete);
  });
  test('a dump needing more parts than one object may have fails naming the limit and what to change, and leaves nothing', async () => {
    // Prepare / Act: ~25 MB uncompressed in 5 MiB parts, against a limit of 2 parts (S3's is 10,000).
    const { outcome: err, rig } = await seededBackupThrough(proxy, db, { maxParts: 2 });
    // Assess
    expect(err).toBeInstanceOf(DumpFailedError);
    const message = (err as Error).message;
    expect(message).toContain('larger than 2 parts of 5242880 bytes');
    expect(message).toContain('raise the part size');
    expect(message).toContain('nothing was left');
    expect(message).not.toMatch(/S3 refused|SIGKILL/);
    expect(proxy.aborts).toBe(1);
    expect(await listKeys(rig, backupPrefix(db.name))).toEqual([]);
  });
});
