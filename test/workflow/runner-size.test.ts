/**
 * Backup and restore pick their runner by size without being asked: the synthesized state machine (with a small
 * `workflow.fargateThresholdBytes`, so a test database can cross it) measures the database, and for a restore
 * the backup, then runs on Lambda below the threshold and on Fargate (the task run locally from the image's
 * file tree) above it. Every AWS request is IAM-simulated against the template (test/workflow/harness.ts).
 */
import { databaseSizeBytes, withClient } from '../../lambdas/shared/db';
import {
  dropDatabase,
  fetchObject,
  freshDatabase,
  rigStore,
  seedRows,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';
import { runWorkflow, synthesizedWorkflow } from './harness';

/** Above a fresh rig database (about 8 MB), below one holding the test's 30 MB table. */
const THRESHOLD = 24 * 1024 * 1024;
const stack = { fargateThresholdBytes: THRESHOLD };

async function databaseSize(db: TestDatabase): Promise<number> {
  return withClient(db.target, async (c) => {
    return databaseSizeBytes(c);
  });
}

/**
 * About 19 MB of hex text (a 30 MB table): gzip halves hex at best, so its dump alone puts the restore estimate
 * over the threshold.
 */
async function addNoise(db: TestDatabase): Promise<void> {
  await withClient(db.target, (c) =>
    c.query(
      `CREATE TABLE noise AS
         SELECT g AS id, md5(random()::text) || md5(random()::text) AS hex FROM generate_series(1, 300000) g`,
    ),
  );
}

/** Drops the database a restore kept as `<db>__pgshift_before_<ts>` (the `cleanup` action's job on AWS). */
async function dropPrevious(run: { state?: { results: Record<string, unknown> } }): Promise<void> {
  const previous = (run.state?.results.restore as { previousDatabase?: string } | undefined)
    ?.previousDatabase;
  if (previous) await dropDatabase(previous);
}

function states(run: { visited: { state: string }[] }): string[] {
  return run.visited.map((v) => v.state);
}

describe('runner by size (synthesized workflow, local Fargate task)', () => {
  beforeAll(() => {
    synthesizedWorkflow(stack);
  }, 600_000);

  test('backup and restore of a database below the threshold stay on Lambda', async () => {
    // Prepare
    const db = await freshDatabase('wfsmall');
    await seedRows(db.target, 100);
    expect(await databaseSize(db)).toBeLessThan(THRESHOLD);
    // Act
    const backup = await runWorkflow({ action: 'backup' }, { databaseUrl: db.url, database: db.name, stack });
    const restore = await runWorkflow(
      { action: 'restore', backup: 'latest', confirm: db.name },
      { databaseUrl: db.url, database: db.name, stack },
    );
    // Assess
    expect(backup.error).toBeUndefined();
    expect(states(backup)).toEqual(expect.arrayContaining(['Measure database size', 'Back up database']));
    expect(states(backup)).not.toContain('Back up database (Fargate)');
    const size = backup.state!.results.size!;
    expect(size.databaseSizeBytes).toBeGreaterThan(0);
    expect(size.databaseSizeBytes).toBeLessThan(THRESHOLD);
    expect(restore.error).toBeUndefined();
    expect(states(restore)).toEqual(expect.arrayContaining(['Measure restore size', 'Restore database']));
    expect(states(restore)).not.toContain('Restore database (Fargate)');
    const probe = restore.state!.results.size!;
    expect(probe.backupKey).toBe(backup.state!.results.backup!.key);
    expect(probe.restoreSizeBytes).toBeLessThan(THRESHOLD);
    expect((await tableChecksum(db.target, 'items')).rows).toBe(100);
    await dropPrevious(restore);
    await db.drop();
  }, 300_000);

  test('a database above the threshold backs up on Fargate, and its restore goes to Fargate by the backup size', async () => {
    // Prepare
    const db = await freshDatabase('wfbig');
    await addNoise(db);
    const before = await tableChecksum(db.target, 'noise');
    expect(await databaseSize(db)).toBeGreaterThan(THRESHOLD);
    // Act: the nightly backup, as a maintenance window starts it (no runner in the input).
    const backup = await runWorkflow({ action: 'backup' }, { databaseUrl: db.url, database: db.name, stack });
    // Assess
    expect(backup.error).toBeUndefined();
    expect(states(backup)).toEqual(
      expect.arrayContaining([
        'Measure database size',
        'Back up database (Fargate)',
        'Read Fargate backup result',
      ]),
    );
    expect(states(backup)).not.toContain('Back up database');
    const dumped = backup.state!.results.backup!;
    expect((await fetchObject(rigStore(), dumped.key!)).sha256).toBe(dumped.sha256);

    // Prepare: the database shrinks below the threshold, so only the backup's size can send the restore to Fargate.
    await withClient(db.target, (c) => c.query('DROP TABLE noise'));
    expect(await databaseSize(db)).toBeLessThan(THRESHOLD);
    // Act
    const restore = await runWorkflow(
      { action: 'restore', backup: 'latest', confirm: db.name },
      { databaseUrl: db.url, database: db.name, stack },
    );
    // Assess
    expect(restore.error).toBeUndefined();
    expect(states(restore)).toEqual(
      expect.arrayContaining([
        'Measure restore size',
        'Restore database (Fargate)',
        'Read Fargate restore result',
      ]),
    );
    expect(states(restore)).not.toContain('Restore database');
    const probe = restore.state!.results.size!;
    expect(probe.databaseSizeBytes).toBeLessThan(THRESHOLD);
    expect(probe.backupKey).toBe(dumped.key);
    expect(probe.backupSizeBytes).toBe(dumped.sizeBytes);
    expect(probe.restoreSizeBytes).toBeGreaterThan(THRESHOLD);
    expect(await tableChecksum(db.target, 'noise')).toEqual(before);
    await dropPrevious(restore);
    await db.drop();
  }, 600_000);

  test('runner: "lambda" in the input keeps a backup above the threshold on Lambda', async () => {
    // Prepare
    const db = await freshDatabase('wfpin');
    await addNoise(db);
    // Act
    const run = await runWorkflow(
      { action: 'backup', runner: 'lambda' },
      { databaseUrl: db.url, database: db.name, stack },
    );
    // Assess
    expect(run.error).toBeUndefined();
    expect(run.state!.results.size!.databaseSizeBytes).toBeGreaterThan(THRESHOLD);
    expect(states(run)).toContain('Back up database');
    expect(states(run)).not.toContain('Back up database (Fargate)');
    await db.drop();
  }, 300_000);

  test("migrate (by the plan's size) and downgrade (by the probe's) take their backups on Fargate above the threshold", async () => {
    // Prepare
    const db = await freshDatabase('wfdown');
    await addNoise(db);
    // Act
    const migrate = await runWorkflow(
      { action: 'migrate' },
      { databaseUrl: db.url, database: db.name, stack },
    );
    const downgrade = await runWorkflow(
      { action: 'downgrade', steps: 1 },
      { databaseUrl: db.url, database: db.name, stack },
    );
    // Assess
    expect(migrate.error).toBeUndefined();
    expect(migrate.state!.results.plan!.databaseSizeBytes).toBeGreaterThan(THRESHOLD);
    expect(migrate.state!.results.size).toBeUndefined();
    expect(states(migrate)).toEqual(
      expect.arrayContaining(['Back up database (Fargate)', 'Apply migrations']),
    );
    expect(states(migrate)).not.toContain('Measure database size');
    expect(downgrade.error).toBeUndefined();
    expect(states(downgrade)).toEqual(
      expect.arrayContaining([
        'Measure database size',
        'Back up database (Fargate)',
        'Read Fargate backup result',
        'Downgrade migrations',
      ]),
    );
    expect(states(downgrade)).not.toContain('Back up database');
    const c = await db.client();
    const { rows } = await c.query<{ version: string }>(
      'SELECT max(version)::text AS version FROM pgshift.schema_migrations',
    );
    expect(rows[0]?.version).toBe('5');
    await db.drop();
  }, 600_000);
});
