/**
 * S3 refusing parts in the middle of a backup: the error names S3's failure (code, message, part, bytes
 * uploaded) and says nothing was left, instead of blaming pg_dump for the kill that followed.
 */
import { DumpFailedError } from '../../lambdas/shared/errors';
import { backupPrefix } from '../../lambdas/shared/keys';
import { listKeys } from '../../lambdas/shared/s3';
import { freshDatabase, rigInfo, type TestDatabase } from '../rig/helpers';
import { seededBackupThrough } from '../rig/proxied-backup';
import { startRefusingS3Proxy, type RefusingProxy } from '../rig/refusing-s3-proxy';

const MIB = 1024 * 1024;

describe('backup: S3 refuses parts mid-upload', () => {
  let db: TestDatabase;
  let proxy: RefusingProxy;
  beforeEach(async () => {
    db = await freshDatabase('bks3');
    proxy = await startRefusingS3Proxy(rigInfo().s3.endpoint, {
      fromPart: 3,
      code: 'AccessDenied',
      message: 'User is not authorized to perform kms:GenerateDataKey',
    });
  });
  afterEach(async () => {
    await proxy.close();
    await db.drop();
  });

  test('the error names the S3 code and message, the part and the bytes uploaded, and says the upload was aborted', async () => {
    // Prepare / Act: ~25 MB uncompressed, uploaded one 5 MiB part at a time through the proxy.
    const { outcome: err, rig } = await seededBackupThrough(proxy, db);
    // Assess
    expect(err).toBeInstanceOf(DumpFailedError);
    const message = (err as Error).message;
    expect(message).toContain('S3 refused part 3');
    expect(message).toContain('AccessDenied: User is not authorized to perform kms:GenerateDataKey');
    expect(message).toContain(`${10 * MIB} bytes (2 parts) had been uploaded`);
    expect(message).toMatch(/multipart upload was aborted: nothing was left/);
    expect(message).not.toMatch(/SIGKILL/);
    expect((err as DumpFailedError).details).toMatchObject({
      s3ErrorCode: 'AccessDenied',
      partNumber: 3,
      bytesUploaded: 10 * MIB,
      multipartAborted: true,
    });
    expect(proxy.refused[0]).toBe(3);
    expect(proxy.aborts).toBe(1);
    expect(await listKeys(rig, backupPrefix(db.name))).toEqual([]);
  });
});
