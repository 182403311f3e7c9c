/**
 * The rig's own tests: each stand-in does for real what later tests rely on.
 */
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { Upload } from '@aws-sdk/lib-storage';
import { libpqEnv, withClient } from '../../lambdas/shared/db';
import { pgToolPath } from '../../lambdas/shared/pgtools';
import { isNotFound } from '../../lambdas/shared/s3';
import {
  fetchObject,
  freshDatabase,
  readAlerts,
  rigInfo,
  rigSnsClient,
  rigStore,
  rigTlsTarget,
  seedRows,
  sha256,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';

describe('local rig: PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('rig');
  });
  afterAll(async () => db.drop());

  test('a seeded database holds the rows and pg_dump -Fc of it succeeds', async () => {
    // Prepare
    await seedRows(db.target, 5000, { textBytes: 200 });
    // Act
    const dump = await new Promise<{ code: number | null; bytes: number; head: Buffer }>(
      (resolve, reject) => {
        const child = spawn(pgToolPath('pg_dump'), ['--format=custom'], { env: libpqEnv(db.target) });
        let bytes = 0;
        const head: Buffer[] = [];
        child.stdout.on('data', (d: Buffer) => {
          if (bytes === 0) head.push(d);
          bytes += d.length;
        });
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, bytes, head: Buffer.concat(head) }));
      },
    );
    // Assess
    expect(dump.code).toBe(0);
    expect(dump.head.subarray(0, 5).toString()).toBe('PGDMP');
    expect(dump.bytes).toBeGreaterThan(10000);
    expect((await tableChecksum(db.target, 'items')).rows).toBe(5000);
  });

  test('the server speaks TLS that verifies against the rig CA (sslmode=verify-full)', async () => {
    const ssl = await withClient(
      rigTlsTarget(db.name),
      async (c) =>
        (await c.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows[0]
          ?.ssl,
    );
    expect(ssl).toBe(true);
  });
});

describe('local rig: S3 stand-in', () => {
  const store = rigStore();

  test('a streamed multipart upload reads back byte-identical', async () => {
    // Prepare: 12 MiB in 1 MiB chunks, streamed (lib-storage's minimum part size is 5 MiB: at least 3 parts).
    const chunks = Array.from({ length: 12 }, (_, i) => Buffer.alloc(1024 * 1024, i + 1));
    const expected = sha256(Buffer.concat(chunks));
    const key = `rig-test/multipart-${Date.now()}.bin`;
    let parts = 0;
    // Act
    const upload = new Upload({
      client: store.s3,
      params: { Bucket: store.bucket, Key: key, Body: Readable.from(chunks) },
      partSize: 5 * 1024 * 1024,
    });
    upload.on('httpUploadProgress', (p) => (parts = Math.max(parts, p.part ?? 0)));
    await upload.done();
    // Assess
    const back = await fetchObject(store, key);
    expect(back.bytes.length).toBe(12 * 1024 * 1024);
    expect(back.sha256).toBe(expected);
    expect(parts).toBeGreaterThanOrEqual(3);
  });

  test('an aborted multipart upload leaves no object and no pending upload', async () => {
    // Prepare: a stream that delivers 6 MiB (one part) and then never ends until we abort.
    const key = `rig-test/aborted-${Date.now()}.bin`;
    const body = new PassThrough();
    const upload = new Upload({
      client: store.s3,
      params: { Bucket: store.bucket, Key: key, Body: body },
      partSize: 5 * 1024 * 1024,
      leavePartsOnError: false,
    });
    let sentParts = 0;
    upload.on('httpUploadProgress', () => (sentParts += 1));
    const done = upload.done();
    body.write(Buffer.alloc(6 * 1024 * 1024, 7));
    while (sentParts === 0) await new Promise((r) => setTimeout(r, 20));
    // Act
    await upload.abort();
    await expect(done).rejects.toThrow();
    // Assess
    const head = await store.s3
      .send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }))
      .catch((e: unknown) => e);
    expect(isNotFound(head)).toBe(true);
    const pending = await store.s3.send(
      new ListMultipartUploadsCommand({ Bucket: store.bucket, Prefix: key }),
    );
    expect(pending.Uploads ?? []).toHaveLength(0);
  });
});

describe('local rig: SNS stand-in', () => {
  test('a message published to the topic is read back with its subject', async () => {
    const subject = `rig test ${Date.now()}`;
    await rigSnsClient().send(
      new PublishCommand({
        TopicArn: rigInfo().sns.topicArn,
        Subject: subject,
        Message: 'hello from the rig',
      }),
    );
    const alerts = await readAlerts((a) => a.Subject === subject);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]?.Message).toBe('hello from the rig');
  });
});
