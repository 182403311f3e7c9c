/**
 * The opt-in parallel restore (`restoreJobs`, Fargate): the dump downloaded to local storage after a free-space
 * check, then the real `pg_restore --jobs`, the file removed in every outcome. Real PostgreSQL 15, the S3 stand-in.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup } from '../../lambdas/backup';
import { cleanupRestoreCopies, listRestoreCopies, restoreDatabase } from '../../lambdas/restore';
import { assertRestoreSpace, RESTORE_SPACE_MARGIN_BYTES } from '../../lambdas/restore/file';
import { withClient } from '../../lambdas/shared/db';
import { RestoreFailedError, RestoreSpaceError } from '../../lambdas/shared/errors';
import { readHistory } from '../../lambdas/shared/history';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import {
  freshDatabase,
  loadStepHandlers,
  rigStepEnv,
  seedRows,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';
import { rigDeps, testExecutionId as run } from '../helpers/rig-deps';

const { deps } = rigDeps();

async function checksums(db: TestDatabase): Promise<unknown[]> {
  return [await tableChecksum(db.target, 'items'), await tableChecksum(db.target, 'other')];
}

describe('restore with jobs (pg_restore --jobs from a downloaded file)', () => {
  let db: TestDatabase;
  let jobsDirectory: string;
  beforeEach(async () => {
    db = await freshDatabase('rj');
    await seedRows(db.target, 3000, { textBytes: 100 });
    await seedRows(db.target, 500, { table: 'other' });
    jobsDirectory = mkdtempSync(join(tmpdir(), 'pgshift-restore-jobs-test-'));
  });
  afterEach(async () => {
    await cleanupRestoreCopies(deps, { target: db.target, executionId: 'test-cleanup', skipConfirm: true });
    await db.drop();
    rmSync(jobsDirectory, { recursive: true, force: true });
  });

  test('jobs: 2 restores every table, swaps, records history, and leaves no file behind', async () => {
    // Prepare
    const expected = await checksums(db);
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    await withClient(db.target, (c) => c.query('DELETE FROM items WHERE id % 2 = 0'));
    // Act
    const result = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm: db.name,
      executionId: 'restore-jobs-1',
      jobs: 2,
      jobsDirectory,
    });
    // Assess
    expect(await checksums(db)).toEqual(expected);
    expect(result.backupKey).toBe(backup.key);
    expect(result.previousDatabase).toMatch(new RegExp(`^${db.name}__pgshift_before_`));
    const history = await withClient(db.target, (c) => readHistory(c));
    expect(history[0]).toMatchObject({
      event: 'restore',
      status: 'succeeded',
      executionId: 'restore-jobs-1',
    });
    expect(readdirSync(jobsDirectory)).toEqual([]);
  });

  test('pg_restore --jobs killed mid-way: RestoreFailedError, the original serves, no copy and no file left', async () => {
    // Prepare
    const expected = await checksums(db);
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    // Act
    const err = await restoreDatabase(deps, {
      target: db.target,
      backup: backup.key,
      confirm: db.name,
      executionId: run(),
      jobs: 2,
      jobsDirectory,
      hooks: { onRestoreStarted: ({ pid }) => process.kill(pid, 'SIGKILL') },
    }).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(RestoreFailedError);
    expect(err).toMatchObject({ message: expect.stringMatching(/pg_restore was killed by SIGKILL/) });
    expect(await checksums(db)).toEqual(expected);
    expect((await listRestoreCopies(db.target)).filter((c) => c.kind === 'restore')).toEqual([]);
    expect(readdirSync(jobsDirectory)).toEqual([]);
  });

  test('too little free space for the dump plus the margin is a RestoreSpaceError naming both', async () => {
    // Prepare: a real backup whose manifest asks for just more than the directory has free.
    const backup = await createBackup(deps, { target: db.target, executionId: run() });
    const fs = await statfs(jobsDirectory);
    const free = fs.bavail * fs.bsize;
    const tooLarge = { ...backup.manifest, sizeBytes: free - RESTORE_SPACE_MARGIN_BYTES + 1024 * 1024 };
    // Act
    const err = await assertRestoreSpace(tooLarge, jobsDirectory).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(RestoreSpaceError);
    expect(err).toMatchObject({
      name: 'RestoreSpaceError',
      outcome: 'refused',
      details: { directory: jobsDirectory, neededBytes: tooLarge.sizeBytes + RESTORE_SPACE_MARGIN_BYTES },
      message: expect.stringContaining('restore without restoreJobs'),
    });
    await expect(assertRestoreSpace(backup.manifest, jobsDirectory)).resolves.toBeUndefined();
  });
});

describe('restore handler: restoreJobs only on Fargate', () => {
  type Handler = (event: StepEvent) => Promise<StepOutput>;
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('rjh');
    await seedRows(db.target, 500);
  });
  afterAll(async () => {
    await cleanupRestoreCopies(deps, { target: db.target, executionId: 'test-cleanup', skipConfirm: true });
    await db.drop();
  });

  test('refused on Lambda with a clear error; on Fargate (params.runner) it restores with jobs', async () => {
    // Prepare
    const { restore } = loadStepHandlers<Handler, 'restore'>(['restore'], rigStepEnv(db.url));
    const expected = await tableChecksum(db.target, 'items');
    await createBackup(deps, { target: db.target, executionId: run() });
    const execution = { id: 'arn:aws:states:us-east-1:000000000000:execution:pgshift:jobs', name: 'jobs' };
    const input = {
      action: 'restore' as const,
      backup: 'latest',
      confirm: db.name,
      runner: 'fargate' as const,
      restoreJobs: 2,
    };
    // Act + Assess: the Lambda state (no runner param) refuses before anything is read.
    await expect(restore({ input, execution, params: { operation: 'restore' } })).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringContaining('restoreJobs: only on Fargate'),
    });
    expect(await listRestoreCopies(db.target)).toEqual([]);
    // Act + Assess: the Fargate state's params.
    const out = await restore({ input, execution, params: { operation: 'restore', runner: 'fargate' } });
    expect(out).toMatchObject({ step: 'restore', ok: true });
    expect(await tableChecksum(db.target, 'items')).toEqual(expected);
  });
});
