/**
 * The backup and restore Lambda handlers, configured from the environment as on AWS but with DATABASE_URL
 * (local mode), chained as the state machine would: backup → restore "latest" → cleanup. The handlers are loaded
 * in an isolated module registry (fresh env per load), so errors are matched by name, as Step Functions does.
 */
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import { listRestoreCopies } from '../../lambdas/restore';
import {
  fetchObject,
  freshDatabase,
  loadStepHandlers,
  rigStepEnv,
  rigStore,
  seedRows,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';

type Handler = (event: StepEvent) => Promise<StepOutput>;

function loadHandlers(db: TestDatabase): { backup: Handler; restore: Handler } {
  return loadStepHandlers<Handler, 'backup' | 'restore'>(['backup', 'restore'], rigStepEnv(db.url));
}

describe('backup and restore handlers', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('hd');
  });
  afterAll(async () => db.drop());

  test('backup writes dump + manifest and says where; restore "latest" brings the data back; cleanup drops the copy', async () => {
    // Prepare
    await seedRows(db.target, 500);
    const expected = await tableChecksum(db.target, 'items');
    const { backup, restore } = loadHandlers(db);
    const execution = {
      id: 'arn:aws:states:us-east-1:000000000000:execution:pgshift:handler-test',
      name: 'handler-test',
    };
    // Act: backup
    const out = await backup({ input: { action: 'backup', verifyBackup: true }, execution });
    // Assess
    expect(out).toMatchObject({ step: 'backup', ok: true, verified: true, compression: 'gzip:1' });
    expect(out.written).toEqual({ dump: out.key, manifest: out.manifestKey });
    expect((await fetchObject(rigStore(), out.key as string)).sha256).toBe(out.sha256);
    // Act: change the data, then restore the latest backup through the handler
    await (await db.client()).query('DELETE FROM items');
    await expect(
      restore({ input: { action: 'restore', backup: 'latest', confirm: 'wrong' }, execution }),
    ).rejects.toMatchObject({ name: 'RestoreRefusedError' });
    await expect(
      restore({ input: { action: 'restore', confirm: db.name }, execution }),
    ).rejects.toMatchObject({ name: 'InputValidationError' });
    const restored = await restore({
      input: { action: 'restore', backup: 'latest', confirm: db.name },
      execution,
      params: { operation: 'restore' },
    });
    // Assess
    expect(restored).toMatchObject({
      step: 'restore',
      ok: true,
      backupKey: out.key,
      terminatedConnections: 1,
    });
    expect(await tableChecksum(db.target, 'items')).toEqual(expected);
    expect(await listRestoreCopies(db.target)).toHaveLength(1);
    // Act: cleanup
    const cleaned = await restore({
      input: { action: 'cleanup', confirm: db.name },
      execution,
      params: { operation: 'cleanup' },
    });
    // Assess
    expect(cleaned).toMatchObject({
      step: 'restore',
      operation: 'cleanup',
      dropped: [restored.previousDatabase],
    });
    expect(await listRestoreCopies(db.target)).toHaveLength(0);
  });
});
