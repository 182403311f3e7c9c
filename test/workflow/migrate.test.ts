/**
 * The synthesized state machine, executed locally (aws-local-stepfunctions) with every Task running its
 * deployed asset (test/workflow/harness.ts) against the rig's PostgreSQL (TLS verify-full, through the
 * secret) and S3/SNS stand-in, every AWS request IAM-simulated.
 */
import { mkdtemp, writeFile, cp } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  fetchObject,
  freshDatabase,
  readAlerts,
  rigStore,
  seedRows,
  tableChecksum,
  type TestDatabase,
} from '../rig/helpers';
import type { RecordedCall } from '../../bin/cli/aws-gateway';
import { queryOneRow } from '../../lambdas/shared/db';
import { EXAMPLE_MIGRATIONS, runWorkflow, synthesizedWorkflow } from './harness';
import { present } from '../helpers/present';

async function tableExists(db: TestDatabase, qualified: string): Promise<boolean> {
  const c = await db.client();
  const { t } = await queryOneRow<{ t: string | null }>(c, 'SELECT to_regclass($1)::text AS t', [qualified]);
  return t !== null;
}

async function appliedVersions(db: TestDatabase): Promise<string[]> {
  const c = await db.client();
  const { exists } = await queryOneRow<{ exists: boolean }>(
    c,
    "SELECT to_regclass('pgshift.schema_migrations') IS NOT NULL AS exists",
  );
  if (!exists) return [];
  return (
    await c.query<{ version: string }>('SELECT version::text FROM pgshift.schema_migrations ORDER BY version')
  ).rows.map((r) => r.version);
}

describe('the synthesized workflow, executed locally', () => {
  beforeAll(() => {
    synthesizedWorkflow();
  }, 120_000);

  test('migrate: plan, pre-flight, backup, snapshots, apply, diff, report, success alert', async () => {
    // Prepare
    const db = await freshDatabase('wfm');
    await seedRows(db.target, 200);
    let calls: RecordedCall[] = [];
    // Act
    const run = await runWorkflow(
      { action: 'migrate' },
      { databaseUrl: db.url, database: db.name, inspect: (d) => void (calls = [...d.calls]) },
    );
    // Assess
    expect(run.error).toBeUndefined();
    expect(run.ok).toBe(true);
    // What deploys ran: the database functions read the secret, objects were written with SSE-KMS, the
    // watchdog was scheduled and deleted, the running-execution check listed executions — all of it
    // IAM-simulated by runWorkflow against the template.
    const made = (service: string, operation: string) =>
      calls.filter((c) => c.service === service && c.operation === operation).map((c) => c.caller);
    expect(new Set(made('secretsmanager', 'GetSecretValue'))).toEqual(
      new Set([
        'StepsMigrateFunctionDDD37746',
        'StepsPreflightFunction12CDCAE1',
        'StepsBackupFunction2F25BFE1',
        'StepsSchemaFunctionC051B2B8',
        'StepsReportFunction136B2FE3',
      ]),
    );
    const upload = calls.find(
      (c) =>
        ['PutObject', 'CreateMultipartUpload'].includes(c.operation) &&
        c.authorizations[0]?.resource.endsWith('.dump'),
    );
    expect(upload?.authorizations.map((a) => a.action)).toEqual(['s3:PutObject', 'kms:GenerateDataKey']);
    expect(upload?.authorizations[0]?.context['s3:x-amz-server-side-encryption']).toBe('aws:kms');
    expect(made('scheduler', 'CreateSchedule')).toHaveLength(1);
    expect(made('scheduler', 'DeleteSchedule')).toHaveLength(1);
    expect(made('states', 'ListExecutions')).toEqual(['StepsWorkflowFunction14211DD9']);
    expect(made('sns', 'Publish')).toEqual(['StepsNotifyFunction8E16D98F']);
    const r = run.state!.results;
    expect(Object.keys(r)).toEqual(
      expect.arrayContaining([
        'plan',
        'preflight',
        'backup',
        'snapshotBefore',
        'migrate',
        'snapshotAfter',
        'diff',
        'report',
      ]),
    );
    expect(await appliedVersions(db)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(await tableExists(db, 'app.orders')).toBe(true);
    const dump = await fetchObject(rigStore(), r.backup!.key as string);
    expect(dump.sha256).toBe(r.backup!.sha256);
    expect(r.report!.written).toEqual(
      expect.objectContaining({ html: expect.stringMatching(/report\.html$/) }),
    );
    const html = (
      await fetchObject(rigStore(), present(r.report?.written?.html, 'the report HTML key'))
    ).bytes.toString();
    expect(html).toContain('<svg');
    const [alert] = await readAlerts((a) => a.Subject === `pgshift migrate succeeded on ${db.name}`, {
      waitSeconds: 5,
    });
    expect(alert).toBeDefined();
    expect(run.visited.map((v) => v.state)).toEqual(
      expect.arrayContaining([
        'Validate input',
        'Plan and lint migrations',
        'Pre-flight checks',
        'Apply migrations',
        'Notify success',
      ]),
    );
    await db.drop();
  }, 180_000);

  test('dry run: returns the plan and SQL, takes no backup and changes nothing', async () => {
    // Prepare
    const db = await freshDatabase('wfd');
    // Act
    const run = await runWorkflow(
      { action: 'migrate', dryRun: true },
      { databaseUrl: db.url, database: db.name },
    );
    // Assess
    expect(run.error).toBeUndefined();
    const r = run.state!.results;
    expect(r.backup).toBeUndefined();
    expect(r.migrate).toBeUndefined();
    expect((r.plan as unknown as { pending: unknown[] }).pending).toHaveLength(6);
    const sql = (
      await fetchObject(rigStore(), present(r.plan?.written?.sql, 'the plan SQL key'))
    ).bytes.toString();
    expect(sql).toContain('CREATE INDEX CONCURRENTLY');
    expect(sql).toMatch(/SET lock_timeout/);
    expect(await appliedVersions(db)).toEqual([]);
    expect(await tableExists(db, 'app.customers')).toBe(false);
    await db.drop();
  }, 120_000);

  test('a failing migration: rolled back, the run fails with its name and a failure alert is published', async () => {
    // Prepare
    const db = await freshDatabase('wff');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-wf-'));
    await cp(
      path.join(EXAMPLE_MIGRATIONS, '0001_create_customers.up.sql'),
      path.join(dir, '0001_create_customers.up.sql'),
    );
    await writeFile(
      path.join(dir, '0002_broken.up.sql'),
      'ALTER TABLE app.customers ADD COLUMN tier text;\nSELECT no_such_function();\n',
    );
    // Act
    const run = await runWorkflow(
      { action: 'migrate' },
      { databaseUrl: db.url, database: db.name, migrationsDir: dir },
    );
    // Assess
    expect(run.ok).toBe(false);
    expect(run.error?.name).toBe('MigrationFailedError');
    expect(run.error?.message).toContain('0002_broken');
    expect(await appliedVersions(db)).toEqual(['1']);
    const c = await db.client();
    const cols = await c.query(
      "SELECT 1 FROM information_schema.columns WHERE table_schema='app' AND column_name='tier'",
    );
    expect(cols.rowCount).toBe(0);
    const [alert] = await readAlerts((a) => a.Subject === `pgshift migrate FAILED on ${db.name}`, {
      waitSeconds: 5,
    });
    if (!alert) throw new Error('no failure alert');
    expect(alert.Message).toContain('MigrationFailedError');
    expect(run.visited.map((v) => v.state)).toEqual(expect.arrayContaining(['Notify failure', 'Failed']));
    await db.drop();
  }, 180_000);

  test('a lock held by the application: Apply times out, is retried, and succeeds once the lock is gone', async () => {
    // Prepare
    const db = await freshDatabase('wfl');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-wf-'));
    await writeFile(
      path.join(dir, '0001_add_column.up.sql'),
      '-- pgshift:lock-timeout 300ms\nALTER TABLE items ADD COLUMN note text;\n',
    );
    await seedRows(db.target, 10);
    const holder = await db.client();
    const released: string[] = [];
    // Act
    const run = await runWorkflow(
      { action: 'migrate' },
      {
        databaseUrl: db.url,
        database: db.name,
        migrationsDir: dir,
        onEvent: (e) => {
          // The application's transaction starts after pre-flight passed and ends after the first timeout.
          if (e.type === 'entered' && e.state === 'Apply migrations' && released.length === 0) {
            released.push('held');
            void holder.query('BEGIN; LOCK TABLE items IN ACCESS SHARE MODE;');
          }
          if (e.type === 'retried' && e.state === 'Apply migrations') {
            released.push('released');
            void holder.query('COMMIT');
          }
        },
      },
    );
    // Assess
    expect(run.error).toBeUndefined();
    expect(released).toEqual(['held', 'released']);
    expect(run.visited.filter((v) => v.state === 'Apply migrations').map((v) => v.outcome)).toEqual([
      'retried',
      'ok',
    ]);
    expect(await appliedVersions(db)).toEqual(['1']);
    await db.drop();
  }, 180_000);

  test('restore without the confirmation is refused and changes nothing', async () => {
    // Prepare
    const db = await freshDatabase('wfr');
    await seedRows(db.target, 100);
    const before = await tableChecksum(db.target, 'items');
    // Act
    const run = await runWorkflow(
      { action: 'restore', backup: 'latest' },
      { databaseUrl: db.url, database: db.name },
    );
    // Assess
    expect(run.ok).toBe(false);
    expect(run.error?.name).toBe('RestoreRefusedError');
    expect(await tableChecksum(db.target, 'items')).toEqual(before);
    await db.drop();
  }, 120_000);

  test('invalid input fails in the first state with every problem listed, and alerts', async () => {
    const run = await runWorkflow(
      { action: 'migrate', dryrun: true, steps: 2 },
      { databaseUrl: 'postgres://x@127.0.0.1:1/none', database: 'invalid_input_db' },
    );
    expect(run.ok).toBe(false);
    expect(run.error?.name).toBe('InputValidationError');
    expect(run.error?.message).toMatch(/unknown field "dryrun"[\s\S]*steps/);
    const [alert] = await readAlerts((a) => a.Subject === 'pgshift migrate FAILED on invalid_input_db', {
      waitSeconds: 5,
    });
    expect(alert).toBeDefined();
  }, 60_000);
});
