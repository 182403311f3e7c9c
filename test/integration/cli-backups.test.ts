/**
 * `pgshift backups [--verify]` in-process against the rig's S3 stand-in: which backups are sound, and why the
 * others are not.
 */
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { main } from '../../bin/cli/main';
import type { Io } from '../../bin/cli/output';
import { createBackup } from '../../lambdas/backup';
import { putJson } from '../../lambdas/shared/s3';
import { fetchObject, freshDatabase, rigInfo, seedRows, type TestDatabase } from '../rig/helpers';
import { rigDeps, testExecutionId as run } from '../helpers/rig-deps';
import { flipByteNearEnd } from '../helpers/corrupt';

const { store, deps } = rigDeps();

async function pgshift(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: Io = { out: (t) => out.push(t), err: (t) => err.push(t), tty: false };
  const code = await main(args, io);
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('pgshift backups (in-process, S3 stand-in)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('clib');
    await seedRows(db.target, 50);
  });
  afterAll(async () => db.drop());

  test('lists sound backups and flags a manifest naming another object; --verify also catches a corrupt dump', async () => {
    // Prepare: a good backup, a newer one with a flipped byte, and a newest whose manifest is the good one's.
    const flags = [
      '--database-url',
      db.url,
      '--bucket',
      rigInfo().s3.bucket,
      '--s3-endpoint',
      rigInfo().s3.endpoint,
    ];
    const good = await createBackup(deps, { target: db.target, executionId: run() });
    const flipped = await createBackup(deps, {
      target: db.target,
      executionId: run(),
      now: () => new Date(Date.now() + 3600e3),
    });
    const bytes = Buffer.from((await fetchObject(store, flipped.key)).bytes);
    flipByteNearEnd(bytes);
    await store.s3.send(new PutObjectCommand({ Bucket: store.bucket, Key: flipped.key, Body: bytes }));
    const copied = await createBackup(deps, {
      target: db.target,
      executionId: run(),
      now: () => new Date(Date.now() + 7200e3),
    });
    await putJson(store, copied.manifestKey, good.manifest);
    // Act
    const listed = await pgshift(['backups', ...flags]);
    const verified = await pgshift(['backups', '--verify', '--json', ...flags]);
    // Assess
    expect(listed.code).toBe(1);
    expect(listed.out.split('\n')).toEqual([
      expect.stringMatching(new RegExp(`^✗ NOT SOUND  ${copied.key}: .*describes ${good.key}`)),
      expect.stringContaining(flipped.key),
      expect.stringContaining(good.key),
    ]);
    expect(verified.code).toBe(1);
    const doc = JSON.parse(verified.out) as { ok: boolean; backups: { key: string; sound: boolean }[] };
    expect(doc.ok).toBe(false);
    expect(doc.backups.map((b) => [b.key, b.sound])).toEqual([
      [copied.key, false],
      [flipped.key, false],
      [good.key, true],
    ]);
  });
});
