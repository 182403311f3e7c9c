/**
 * Step Functions refuses a state over 256 KB with States.DataLimitExceeded, which no Catch sees. The synthesized
 * workflow, run locally (test/workflow/harness.ts: each Task from its deployed asset, the rig's PostgreSQL and S3
 * stand-in), with migrations that make big outputs: every state stays within pgshift's budget
 * (lambdas/shared/step-budget.ts), what does not fit is in S3, and the report still counts everything. The local
 * runner refuses what Step Functions refuses, so an oversized state could not pass here.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LocalRunResult } from '../../bin/cli/local-runner';
import type { StepOutput } from '../../lambdas/shared/step';
import { queryOneRow } from '../../lambdas/shared/db';
import {
  STATE_BUDGET_BYTES,
  STATE_LIMIT_BYTES,
  STEP_OUTPUT_BUDGET_BYTES,
  type SpilledRef,
} from '../../lambdas/shared/step-budget';
import { fetchObject, freshDatabase, readAlerts, rigStore, type TestDatabase } from '../rig/helpers';
import { executionStatusChange, runWorkflow, synthesizedWorkflow } from './harness';
import { present } from '../helpers/present';

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-wfb-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

/** Every state whose input, output or Task payload passed the state budget, or whose Task result passed a step's. */
function overBudget(run: LocalRunResult): string[] {
  const over: string[] = [];
  for (const [state, s] of Object.entries(run.stateSizes)) {
    for (const [what, bytes] of [
      ['input', s.input],
      ['output', s.output],
      ['payload', s.payload ?? 0],
    ] as const) {
      if (bytes > STATE_BUDGET_BYTES) over.push(`${state} ${what}: ${bytes} bytes`);
    }
    if ((s.result ?? 0) > STEP_OUTPUT_BUDGET_BYTES) over.push(`${state} result: ${s.result} bytes`);
  }
  return over;
}

/** Runs `migrate` with the folder's migrations; it must succeed with every state within budget. */
async function migrateWithinBudget(db: TestDatabase, dir: string): Promise<LocalRunResult> {
  const run = await runWorkflow(
    { action: 'migrate' },
    { databaseUrl: db.url, database: db.name, migrationsDir: dir },
  );
  expect(run.error).toBeUndefined();
  expect(run.ok).toBe(true);
  expect(overBudget(run)).toEqual([]);
  return run;
}

async function json<T>(key: string): Promise<T> {
  return JSON.parse((await fetchObject(rigStore(), key)).bytes.toString('utf8')) as T;
}

function spilledOf(result: StepOutput | undefined): SpilledRef {
  const ref = result?.spilled as SpilledRef | undefined;
  if (!ref) throw new Error(`expected a spilled output, got ${JSON.stringify(result).slice(0, 300)}`);
  return ref;
}

async function count(db: TestDatabase, sql: string): Promise<number> {
  const c = await db.client();
  return Number((await queryOneRow<{ n: string }>(c, sql)).n);
}

describe('the workflow state stays within its budget (big migrations, plans and diffs)', () => {
  beforeAll(() => {
    synthesizedWorkflow();
  }, 180_000);

  test('migrate with a 3,000-statement migration: the plan spills to S3, every state within budget, applied', async () => {
    // Prepare: 3,000 INSERTs, each a statement the analyser records (413 KB of analyses before the budget).
    const db = await freshDatabase('wfb3k');
    const inserts = Array.from(
      { length: 3000 },
      (_, i) => `INSERT INTO items (id, v) VALUES (${i}, 'v${i}');`,
    );
    const dir = await migrationsDir({
      '1_create_items.up.sql': 'CREATE TABLE items (id bigint PRIMARY KEY, v text);\n',
      '2_many_inserts.up.sql': `${inserts.join('\n')}\n`,
    });
    try {
      // Act
      const run = await migrateWithinBudget(db, dir);
      // Assess
      const r = run.state!.results;
      const plan = r.plan!;
      // What the Choice states and later steps read stayed in the state; the analyses left for S3.
      expect(plan).toMatchObject({ ok: true, blocking: false, pendingCount: 2 });
      expect(typeof plan.databaseSizeBytes).toBe('number');
      expect(plan.analyses).toBeUndefined();
      const ref = spilledOf(plan);
      expect(ref.key).toBe(`runs/${db.name}/${run.executionId.split(':').pop()}/outputs/migrate-plan.json`);
      expect(ref.counts.analyses).toBe(2);
      // Without the budget this output alone would have been refused by Step Functions.
      expect(ref.bytes).toBeGreaterThan(STATE_LIMIT_BYTES);
      const full = await json<{ analyses: { name: string; touches: unknown[] }[] }>(ref.key);
      expect(full.analyses.find((a) => a.name === 'many_inserts')?.touches).toHaveLength(3000);
      // Pre-flight judged the whole analyses, read back from S3; the migrations ran.
      expect(r.preflight).toMatchObject({ ok: true });
      expect(r.migrate).toMatchObject({ ok: true, appliedCount: 2 });
      expect(await count(db, 'SELECT count(*)::text AS n FROM items')).toBe(3000);
      const report = await json<{ run: { plan?: { pendingCount?: number } } }>(
        present(r.report?.written?.json, 'the report JSON key'),
      );
      expect(report.run.plan?.pendingCount).toBe(2);
    } finally {
      await db.drop();
    }
  }, 400_000);

  test('a plan with 5,000 lint findings: the dry run reports all of them; without it the refusal is caught and alerted', async () => {
    // Prepare: 5,000 DROP COLUMNs, each an error-level finding (ban-drop-column).
    const db = await freshDatabase('wfb5kf');
    const c = await db.client();
    await c.query('CREATE TABLE wide (id bigint PRIMARY KEY)');
    const drops = Array.from({ length: 5000 }, (_, i) => `ALTER TABLE wide DROP COLUMN c${i};`);
    const dir = await migrationsDir({ '1_drop_many.up.sql': `${drops.join('\n')}\n` });
    const opts = { databaseUrl: db.url, database: db.name, migrationsDir: dir };
    try {
      // Act
      const dry = await runWorkflow({ action: 'migrate', dryRun: true }, opts);
      const refused = await runWorkflow({ action: 'migrate' }, opts);
      // Assess: the dry run succeeded, within budget, and its report counts every finding.
      expect(dry.error).toBeUndefined();
      expect(dry.ok).toBe(true);
      expect(overBudget(dry)).toEqual([]);
      const plan = dry.state!.results.plan!;
      expect(plan).toMatchObject({ blocking: true, lint: { errors: 5000 } });
      const ref = spilledOf(plan);
      expect(
        await json<{ findings: unknown[] }>(present(plan.written?.findings, 'the findings key')),
      ).toMatchObject({
        findings: expect.arrayContaining([expect.objectContaining({ rule: 'ban-drop-column' })]),
      });
      expect(
        (await json<{ findings: unknown[] }>(present(plan.written?.findings, 'the findings key'))).findings,
      ).toHaveLength(5000);
      expect((await json<{ analyses: { touches: unknown[] }[] }>(ref.key)).analyses[0]?.touches).toHaveLength(
        5000,
      );
      const report = await json<{ run: { plan?: { lint?: { errors?: number } } } }>(
        present(dry.state?.results.report?.written?.json, 'the report JSON key'),
      );
      expect(report.run.plan?.lint?.errors).toBe(5000);
      // Without dryRun: refused as unsafe, through the Catch-able failure path, alerted; never a data limit.
      expect(refused.ok).toBe(false);
      expect(refused.error?.name).toBe('UnsafeMigrationError');
      expect(overBudget(refused)).toEqual([]);
      expect(refused.visited.map((v) => v.state)).toEqual(
        expect.arrayContaining(['Refuse: unsafe migration', 'Notify failure', 'Failed']),
      );
      const [alert] = await readAlerts((a) => a.Subject === `pgshift migrate FAILED on ${db.name}`, {
        waitSeconds: 5,
      });
      expect(alert?.Message).toContain('UnsafeMigrationError');
      expect(await count(db, "SELECT count(*)::text AS n FROM pg_tables WHERE tablename = 'wide'")).toBe(1);
    } finally {
      await db.drop();
    }
  }, 400_000);

  test('a migration creating 5,000 tables: snapshots and diff stay in S3, the report counts 5,000 changes', async () => {
    // Prepare: one DO block, so the migration is small and the schema is large.
    const db = await freshDatabase('wfb5kt');
    const dir = await migrationsDir({
      '1_many_tables.up.sql':
        "DO $$ BEGIN FOR i IN 1..5000 LOOP EXECUTE format('CREATE TABLE t_%s (id int)', i); END LOOP; END $$;\n",
    });
    try {
      // Act
      const run = await migrateWithinBudget(db, dir);
      // Assess
      const r = run.state!.results;
      expect(await count(db, "SELECT count(*)::text AS n FROM pg_tables WHERE tablename LIKE 't\\_%'")).toBe(
        5000,
      );
      const counts = r.diff!.counts as { total: number };
      expect(counts.total).toBeGreaterThanOrEqual(5000);
      const report = await json<{ diff: { counts: { total: number }; changes: unknown[] } }>(
        present(r.report?.written?.json, 'the report JSON key'),
      );
      expect(report.diff.counts).toEqual(r.diff!.counts);
      expect(report.diff.changes).toHaveLength(counts.total);
    } finally {
      await db.drop();
    }
  }, 600_000);

  test('a step output over 256 KB (the deployed report step, padded by the test) fails uncaught; the ended function alerts', async () => {
    // Prepare: the report's real output, padded past Step Functions' limit — what the budget prevents.
    const db = await freshDatabase('wfbdle');
    const input = { action: 'backup' };
    let delivered: { function: string; result: unknown }[] = [];
    try {
      // Act
      const run = await runWorkflow(input, {
        databaseUrl: db.url,
        database: db.name,
        wrapHandler: (step, handler) =>
          step !== 'report'
            ? handler
            : async (event, context) => ({
                ...((await handler(event, context)) as object),
                padding: 'x'.repeat(STATE_LIMIT_BYTES),
              }),
        // What EventBridge does with the FAILED status change: the ended function's rule gets it.
        inspect: async (deployment, ended) => {
          delivered = await deployment.deliverEvent(executionStatusChange(deployment, ended, input));
        },
      });
      // Assess: failed with the platform's error, which no Catch saw: the failure path never ran.
      expect(run.ok).toBe(false);
      expect(run.status).toBe('FAILED');
      expect(run.error?.name).toBe('States.DataLimitExceeded');
      expect(run.stateSizes['Write report']?.result).toBeGreaterThan(STATE_LIMIT_BYTES);
      const states = run.visited.map((v) => v.state);
      expect(states).toContain('Write report');
      for (const never of ['Report failed: warn', 'Notify failure', 'Notify success', 'Failed']) {
        expect(states).not.toContain(never);
      }
      expect(run.visited.filter((v) => v.outcome === 'caught')).toEqual([]);
      // The ended function alerted, and deleted the duration watchdog.
      expect(delivered).toEqual([
        expect.objectContaining({
          result: expect.objectContaining({
            status: 'FAILED',
            alert: expect.objectContaining({ kind: 'failure' }),
            watchdog: expect.objectContaining({ deleted: true }),
          }),
        }),
      ]);
      const [alert] = await readAlerts((a) => a.Subject === `pgshift backup FAILED on ${db.name}`, {
        waitSeconds: 5,
      });
      expect(alert?.Message).toContain('States.DataLimitExceeded');
    } finally {
      await db.drop();
    }
  }, 300_000);
});
