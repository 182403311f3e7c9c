/**
 * The opt-in parallel restore through the synthesized state machine: `runner: "fargate"` with `restoreJobs`
 * takes the Fargate branch (the task run locally from the image's file tree), which downloads the dump and runs
 * `pg_restore --jobs`; the same input without the Fargate runner is refused at the start. Every AWS request is
 * IAM-simulated against the template (test/workflow/harness.ts).
 */
import { dropDatabase, freshDatabase, seedRows, tableChecksum } from '../rig/helpers';
import { withClient } from '../../lambdas/shared/db';
import { runWorkflow, synthesizedWorkflow } from './harness';

function states(run: { visited: { state: string }[] }): string[] {
  return run.visited.map((v) => v.state);
}

describe('restore with restoreJobs (synthesized workflow, local Fargate task)', () => {
  beforeAll(() => {
    synthesizedWorkflow();
  }, 600_000);

  test('runner "fargate" with restoreJobs 2 restores on Fargate; without the runner the input is refused', async () => {
    // Prepare
    const db = await freshDatabase('wfjobs');
    await seedRows(db.target, 3000, { textBytes: 100 });
    const expected = await tableChecksum(db.target, 'items');
    const backup = await runWorkflow({ action: 'backup' }, { databaseUrl: db.url, database: db.name });
    expect(backup.error).toBeUndefined();
    await withClient(db.target, (c) => c.query('DELETE FROM items'));
    // Act: refused without the Fargate runner
    const refused = await runWorkflow(
      { action: 'restore', backup: 'latest', confirm: db.name, restoreJobs: 2 },
      { databaseUrl: db.url, database: db.name },
    );
    // Assess
    expect(refused.error?.name).toBe('InputValidationError');
    expect(refused.error?.message).toContain('restoreJobs: needs runner "fargate"');
    expect(states(refused)).not.toContain('Restore database (Fargate)');
    // Act
    const restore = await runWorkflow(
      { action: 'restore', backup: 'latest', confirm: db.name, runner: 'fargate', restoreJobs: 2 },
      { databaseUrl: db.url, database: db.name },
    );
    // Assess
    expect(restore.error).toBeUndefined();
    expect(states(restore)).toEqual(
      expect.arrayContaining(['Restore database (Fargate)', 'Read Fargate restore result']),
    );
    expect(states(restore)).not.toContain('Restore database');
    expect(await tableChecksum(db.target, 'items')).toEqual(expected);
    const previous = (restore.state?.results.restore as { previousDatabase?: string } | undefined)
      ?.previousDatabase;
    if (previous) await dropDatabase(previous);
    await db.drop();
  }, 600_000);
});
