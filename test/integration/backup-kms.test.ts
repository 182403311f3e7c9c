/**
 * SSE-KMS on every write of a backup. The S3 stand-in does not keep SSE headers, so the S3 client is mocked
 * (aws-sdk-client-mock: no local stand-in for SSE-KMS); PostgreSQL and pg_dump are real.
 */
import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createBackup } from '../../lambdas/backup';
import { silentLogger } from '../../lambdas/shared/logger';
import { freshDatabase, seedRows, type TestDatabase } from '../rig/helpers';

const KMS_KEY = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('backup writes are encrypted with the configured KMS key (mocked S3: no local stand-in for SSE-KMS)', () => {
  let db: TestDatabase;
  const s3 = new S3Client({ region: 'eu-west-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
  const mock = mockClient(s3);
  beforeAll(async () => {
    db = await freshDatabase('kms');
  });
  afterAll(async () => db.drop());
  beforeEach(() => {
    mock.reset();
    mock.on(CreateMultipartUploadCommand).resolves({ UploadId: 'upload-1' });
    mock
      .on(UploadPartCommand)
      .callsFake((input: { PartNumber: number }) => ({ ETag: `"etag-${input.PartNumber}"` }));
    mock.on(CompleteMultipartUploadCommand).resolves({});
    mock.on(PutObjectCommand).resolves({});
    mock.on(HeadObjectCommand).rejects(Object.assign(new Error('NotFound'), { name: 'NotFound' }));
  });

  test.each([
    ['a small dump (one PutObject) and its manifest', 50, 'gzip:1'],
    ['a multipart dump (CreateMultipartUpload) and its manifest', 40000, 'none'],
  ])('%s carry aws:kms and the key id', async (_case, rows, compression) => {
    // Prepare
    await seedRows(db.target, rows, { textBytes: 300 });
    // Act
    const result = await createBackup(
      { store: { s3, bucket: 'pgshift-backups', kmsKeyId: KMS_KEY }, log: silentLogger },
      {
        target: db.target,
        executionId: 'kms-test',
        compression,
        partSize: 5 * 1024 * 1024,
      },
    );
    // Assess
    const writes = [
      ...mock.commandCalls(PutObjectCommand).map((c) => c.args[0].input),
      ...mock.commandCalls(CreateMultipartUploadCommand).map((c) => c.args[0].input),
    ];
    expect(writes.map((w) => w.Key).sort()).toEqual([result.key, result.manifestKey].sort());
    for (const w of writes) {
      expect(w).toMatchObject({
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: KMS_KEY,
        Bucket: 'pgshift-backups',
      });
    }
    expect(mock.commandCalls(CreateMultipartUploadCommand)).toHaveLength(compression === 'none' ? 1 : 0);
  });
});
