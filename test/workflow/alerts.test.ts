/**
 * One alert per way a run ends, through what deploys: the synthesized state machine with each function's
 * asset (test/workflow/harness.ts), and for every execution that does not succeed, the status-change event
 * the template's EventBridge rule delivers to the ended function. The rig's SNS stand-in, read through its
 * SQS subscription, receives what the topic would; it delivers the per-protocol documents as published, so
 * the email text and the Chatbot JSON are both checked. EventBridge Scheduler is the gateway's mock: its
 * recorded calls and its schedule table say whether the watchdog is gone.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Client } from 'pg';
import type { RecordedCall } from '../../bin/cli/aws-gateway';
import type { LocalRunResult, StateEvent } from '../../bin/cli/local-runner';
import { quoteIdent, withClient } from '../../lambdas/shared/db';
import { ensureHistoryTables } from '../../lambdas/shared/history';
import { listKeys } from '../../lambdas/shared/s3';
import { EMAIL_LINES, parseAlertMessage, type ChatbotNotification } from '../helpers/alert-shape';
import {
  freshDatabase,
  readAlerts,
  rigStore,
  rigTarget,
  seedRows,
  type DeliveredAlert,
  type TestDatabase,
} from '../rig/helpers';
import { executionStatusChange, runWorkflow, synthesizedWorkflow, type RunOptions } from './harness';
import { present } from '../helpers/present';

interface Outcome {
  run: LocalRunResult;
  /** Every alert published for this database, in order. */
  alerts: { subject: string; email: string; chatbot: ChatbotNotification }[];
  calls: RecordedCall[];
  /** Watchdog schedules left in the (mocked) Scheduler once everything ran. */
  schedulesLeft: number;
  /** What the ended function returned for the rule's event (none for a SUCCEEDED run). */
  ended: unknown[];
}

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-alerts-'));
  for (const [name, sql] of Object.entries(files)) await writeFile(path.join(dir, name), sql);
  return dir;
}

const ONE_MIGRATION = { '0001_add_note.up.sql': 'ALTER TABLE items ADD COLUMN note text;\n' };

/** Every alert whose subject names `database` ("... on <db>"), read until the queue has no more for it. */
async function alertsFor(database: string): Promise<DeliveredAlert[]> {
  const mine = (a: DeliveredAlert) => (a.Subject ?? '').endsWith(` on ${database}`);
  const all = await readAlerts(mine, { waitSeconds: 5 });
  for (;;) {
    const more = await readAlerts(mine, { waitSeconds: 2 });
    if (more.length === 0) return all;
    all.push(...more);
  }
}

/** Runs the workflow; a run that did not succeed gets its status-change event delivered as EventBridge would. */
async function runOutcome(
  db: { name: string; url: string },
  input: Record<string, unknown>,
  options: Partial<RunOptions> & { event?: (e: Record<string, unknown>) => Record<string, unknown> } = {},
): Promise<Outcome> {
  let calls: RecordedCall[] = [];
  let schedulesLeft = -1;
  const ended: unknown[] = [];
  const run = await runWorkflow(input, {
    databaseUrl: db.url,
    database: db.name,
    ...options,
    inspect: async (deployment, finished) => {
      if (finished.status !== 'SUCCEEDED') {
        const event = executionStatusChange(deployment, finished, input);
        for (const r of await deployment.deliverEvent(options.event ? options.event(event) : event)) {
          ended.push(r.result);
        }
      }
      calls = [...deployment.calls];
      schedulesLeft = deployment.gateway.schedules.size;
    },
  });
  const alerts = (await alertsFor(db.name)).map((a) => ({
    subject: a.Subject ?? '',
    ...parseAlertMessage(a.Message),
  }));
  return { run, alerts, calls, schedulesLeft, ended };
}

const made = (calls: RecordedCall[], operation: string) => calls.filter((c) => c.operation === operation);

/** The promises of the issue: one message, readable, valid Chatbot JSON, the watchdog gone. */
function expectOneAlert(
  outcome: Outcome,
  expected: {
    database: string;
    action: string;
    subject: string;
    happened: RegExp;
    next: RegExp;
    stateNow: RegExp;
  },
): void {
  expect(outcome.alerts.map((a) => a.subject)).toEqual([expected.subject]);
  const alert = present(outcome.alerts[0], 'an alert');
  for (const line of EMAIL_LINES) expect(alert.email).toContain(line);
  expect(alert.email).toContain(`Database: ${expected.database}`);
  expect(alert.email).toContain(`What ran: pgshift ${expected.action}`);
  expect(alert.email).toMatch(new RegExp(`What happened: ${expected.happened.source}`));
  expect(alert.email).toMatch(new RegExp(`State of the database now: ${expected.stateNow.source}`));
  expect(alert.email).toMatch(new RegExp(`What to do:\\n- ${expected.next.source}`));
  expect(alert.chatbot.content.keywords).toEqual(expect.arrayContaining(['pgshift', expected.database]));
  expect(alert.chatbot.content.nextSteps[0]).toMatch(expected.next);
  expect(alert.chatbot.content.description).toContain(`*Database:* ${expected.database}`);
  // The watchdog: scheduled once, deleted, nothing left to fire a false "still running".
  expect(made(outcome.calls, 'CreateSchedule')).toHaveLength(1);
  expect(made(outcome.calls, 'DeleteSchedule').length).toBeGreaterThanOrEqual(1);
  expect(outcome.schedulesLeft).toBe(0);
}

describe('alerts for every way a run ends (deployed functions; Scheduler mocked)', () => {
  let db: TestDatabase;
  const holders: Client[] = [];
  /** Login roles a test created; dropped once their database is. */
  const roles: string[] = [];
  beforeAll(() => {
    synthesizedWorkflow();
  }, 120_000);
  beforeEach(async () => {
    db = await freshDatabase('wal');
    await seedRows(db.target, 20);
  });
  afterEach(async () => {
    for (const h of holders.splice(0)) await h.query('ROLLBACK').catch(() => undefined);
    await db.drop();
    for (const role of roles.splice(0)) {
      await withClient(rigTarget(), (c) => c.query(`DROP ROLE IF EXISTS ${quoteIdent(role)}`));
    }
  });

  test('succeeded: one success alert, the watchdog deleted (mocked Scheduler)', async () => {
    const dir = await migrationsDir(ONE_MIGRATION);
    const outcome = await runOutcome(db, { action: 'migrate' }, { migrationsDir: dir });
    expect(outcome.run.status).toBe('SUCCEEDED');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate succeeded on ${db.name}`,
      happened: /Succeeded\./,
      stateNow: /Changed as planned: 1 migration\(s\) applied\./,
      next: /Nothing urgent: read the report\./,
    });
    expect(outcome.alerts[0]?.email).toMatch(/Links:\nExecution: https:\/\/us-east-1\.console/);
    expect(outcome.alerts[0]?.email).toMatch(/Backup: https:\/\/console\.aws\.amazon\.com\/s3\/object\//);
  }, 180_000);

  test("validation failed: one failure alert, and the rule's event adds none", async () => {
    const outcome = await runOutcome(db, { action: 'migrate', dryrun: true });
    expect(outcome.run.error?.name).toBe('InputValidationError');
    expect(outcome.alerts.map((a) => a.subject)).toEqual([`pgshift migrate FAILED on ${db.name}`]);
    expect(outcome.alerts[0]?.email).toMatch(/What happened: Failed in step validate: InputValidationError/);
    expect(outcome.alerts[0]?.email).toContain(
      'State of the database now: Unchanged: nothing was applied; the input was refused before any step ran.',
    );
    expect(outcome.alerts[0]?.chatbot.content.nextSteps[0]).toMatch(/Fix the execution input/);
    expect(outcome.ended).toEqual([
      expect.objectContaining({
        alert: expect.objectContaining({ skipped: 'already alerted by the workflow' }),
      }),
    ]);
    // Validation fails before the watchdog starts: nothing is scheduled, nothing is left.
    expect(made(outcome.calls, 'CreateSchedule')).toHaveLength(0);
    expect(outcome.schedulesLeft).toBe(0);
  }, 120_000);

  test('pre-flight refused (an idle transaction holds a lock the migration needs): one failure alert', async () => {
    const holder = await db.client();
    holders.push(holder);
    await holder.query('BEGIN; LOCK TABLE items IN ACCESS SHARE MODE;');
    const dir = await migrationsDir(ONE_MIGRATION);
    const outcome = await runOutcome(db, { action: 'migrate' }, { migrationsDir: dir });
    expect(outcome.run.error?.name).toBe('PreflightFailedError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened: /Failed in step preflight: PreflightFailedError/,
      stateNow: /Unchanged: nothing was applied; pre-flight only reads the database\./,
      next: /Fix what the pre-flight checks name/,
    });
  }, 180_000);

  test('lint refused (error-level finding): one failure alert', async () => {
    const dir = await migrationsDir({
      '0001_not_null.up.sql': 'ALTER TABLE items ADD COLUMN tier text NOT NULL;\n',
    });
    const outcome = await runOutcome(db, { action: 'migrate' }, { migrationsDir: dir });
    expect(outcome.run.error?.name).toBe('UnsafeMigrationError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened: /Failed in step lint: UnsafeMigrationError/,
      stateNow: /Unchanged: nothing was applied; the lint refused the migrations before the backup\./,
      next: /Make the migration safe/,
    });
  }, 180_000);

  test('lock held by another run (advisory lock): one failure alert', async () => {
    const holder = await db.client();
    holders.push(holder);
    await holder.query("SELECT pg_advisory_lock(hashtext('pgshift.migrate'))");
    const dir = await migrationsDir(ONE_MIGRATION);
    const outcome = await runOutcome(db, { action: 'migrate' }, { migrationsDir: dir });
    await holder.query("SELECT pg_advisory_unlock(hashtext('pgshift.migrate'))");
    expect(outcome.run.error?.name).toBe('MigrationLockedError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened: /Failed in step migrate: MigrationLockedError/,
      stateNow: /Unchanged: nothing was applied; another run holds the migration lock\./,
      next: /Another run holds the migration lock/,
    });
  }, 180_000);

  test('lock timeout after every retry: one failure alert', async () => {
    const holder = await db.client();
    holders.push(holder);
    const dir = await migrationsDir({
      '0001_add_column.up.sql': '-- pgshift:lock-timeout 300ms\nALTER TABLE items ADD COLUMN note text;\n',
    });
    const outcome = await runOutcome(
      db,
      { action: 'migrate' },
      {
        migrationsDir: dir,
        onEvent: (e: StateEvent) => {
          if (e.type === 'entered' && e.state === 'Apply migrations' && holders.length === 1) {
            void holder.query('BEGIN; LOCK TABLE items IN ACCESS SHARE MODE;');
          }
        },
      },
    );
    expect(outcome.run.error?.name).toBe('LockTimeoutError');
    expect(outcome.run.visited.filter((v) => v.state === 'Apply migrations').length).toBeGreaterThan(1);
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened: /Failed in step migrate: LockTimeoutError/,
      stateNow: /The failing migration was rolled back/,
      next: /Find the session that holds the table lock/,
    });
  }, 180_000);

  test('migration error: one failure alert naming the migration', async () => {
    const dir = await migrationsDir({ '0001_broken.up.sql': 'SELECT no_such_function();\n' });
    const outcome = await runOutcome(db, { action: 'migrate' }, { migrationsDir: dir });
    expect(outcome.run.error?.name).toBe('MigrationFailedError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened: /Failed in step migrate: MigrationFailedError: .*0001_broken/,
      stateNow: /The failing migration was rolled back/,
      next: /Fix the failing migration/,
    });
  }, 180_000);

  test("backup error (pg_dump may not read a table the run's role does not own): one failure alert, no backup left", async () => {
    // Prepare: the secret names a role that owns the database, its schema and the migrated table, but not a
    // table another team created: pg_dump stops with "permission denied" after plan and pre-flight passed.
    const role = `wal_dumper_${randomBytes(3).toString('hex')}`;
    const password = `pw-${randomBytes(8).toString('hex')}`;
    await withClient(rigTarget(), (c) =>
      c.query(`CREATE ROLE ${quoteIdent(role)} LOGIN PASSWORD '${password}'`),
    );
    roles.push(role);
    await withClient(db.target, async (c) => {
      await c.query(`ALTER DATABASE ${quoteIdent(db.name)} OWNER TO ${quoteIdent(role)}`);
      await c.query(`ALTER SCHEMA public OWNER TO ${quoteIdent(role)}`);
      await c.query(`ALTER TABLE items OWNER TO ${quoteIdent(role)}`);
      await c.query('CREATE TABLE payroll (id bigint, amount numeric)');
    });
    const asRole = new URL(db.url);
    asRole.username = role;
    asRole.password = password;
    const dir = await migrationsDir(ONE_MIGRATION);
    // Act
    const outcome = await runOutcome(
      { name: db.name, url: asRole.toString() },
      { action: 'migrate' },
      { migrationsDir: dir },
    );
    // Assess
    expect(outcome.run.error?.name).toBe('DumpFailedError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened:
        /Failed in step backup: DumpFailedError: Backup of "\w+" failed: pg_dump exited with code 1: .*permission denied for table payroll/,
      stateNow: /Unchanged: nothing was applied\. No backup was written: any partial upload was aborted/,
      next: /Fix what the backup error names/,
    });
    expect(await listKeys(rigStore(), `backups/${db.name}/`)).toEqual([]);
    const columns = await withClient(db.target, (c) =>
      c.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'items' AND column_name = 'note'"),
    );
    expect(columns.rowCount).toBe(0);
  }, 180_000);

  test('report error (action report; the history table it reads was altered by hand): one failure alert', async () => {
    // Prepare: pgshift's history exists, and someone renamed a column the report reads.
    await withClient(db.target, async (c) => {
      await ensureHistoryTables(c);
      await c.query('ALTER TABLE pgshift.history RENAME COLUMN db_user TO db_user_old');
    });
    // Act
    const outcome = await runOutcome(db, { action: 'report' });
    // Assess
    expect(outcome.run.error?.name).toBe('ReportFailedError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'report',
      subject: `pgshift report FAILED on ${db.name}`,
      happened: /Failed in step report: ReportFailedError: .*db_user/,
      stateNow: /Unchanged: the report only reads the database; nothing was written to it\./,
      next: /Fix what the report error names \(PostgreSQL or S3\)/,
    });
  }, 180_000);

  test('restore refused (no confirmation): one failure alert', async () => {
    const outcome = await runOutcome(db, { action: 'restore', backup: 'latest' });
    expect(outcome.run.error?.name).toBe('RestoreRefusedError');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'restore',
      subject: `pgshift restore FAILED on ${db.name}`,
      happened: /Failed in step restore: RestoreRefusedError/,
      stateNow: /Unchanged: the restore was refused before touching anything\./,
      next: /Read the refusal/,
    });
  }, 180_000);

  test('still running past the threshold: one "still running" alert from the mocked Scheduler, then the outcome', async () => {
    const outcome = await runOutcome(
      db,
      { action: 'migrate', dryRun: true },
      { scheduleDelayMs: () => 0, migrationsDir: await migrationsDir(ONE_MIGRATION) },
    );
    expect(outcome.run.status).toBe('SUCCEEDED');
    expect(outcome.alerts.map((a) => a.subject)).toEqual([
      `pgshift migrate still running on ${db.name}`,
      `pgshift migrate succeeded on ${db.name}`,
    ]);
    const still = present(outcome.alerts[0], 'the still-running alert');
    for (const line of EMAIL_LINES) expect(still.email).toContain(line);
    expect(still.email).toContain('State of the database now: In progress');
    expect(still.email).toContain(`Database: ${db.name}`);
    expect(still.email).toMatch(/What to do:\n- Open the execution: find the running state/);
    expect(still.chatbot.content.nextSteps[0]).toMatch(/^Open the execution/);
    // Published by the scheduler role (IAM-simulated with the rest), and the fired schedule deleted itself.
    expect(outcome.calls.filter((c) => c.caller.startsWith('scheduler:')).map((c) => c.operation)).toEqual([
      'Publish',
    ]);
    expect(outcome.schedulesLeft).toBe(0);
  }, 180_000);

  test('ABORTED (stopped during the backup): the ended function sends one alert and deletes the watchdog', async () => {
    const dir = await migrationsDir(ONE_MIGRATION);
    const outcome = await runOutcome(
      db,
      { action: 'migrate' },
      { migrationsDir: dir, abortWhen: (e) => e.type === 'entered' && e.state === 'Back up database' },
    );
    expect(outcome.run.status).toBe('ABORTED');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate ABORTED on ${db.name}`,
      happened: /Aborted after/,
      stateNow: /Unknown until checked/,
      next: /Run `pgshift start verify`/,
    });
    expect(made(outcome.calls, 'DeleteSchedule').map((c) => c.caller)).toEqual([
      expect.stringMatching(/^StepsEndedFunction/),
    ]);
  }, 180_000);

  test('TIMED_OUT (pg_dump waits on a lock past the timeout): one alert from the ended function, watchdog deleted', async () => {
    const holder = await db.client();
    holders.push(holder);
    const dir = await migrationsDir(ONE_MIGRATION);
    const outcome = await runOutcome(
      db,
      { action: 'migrate' },
      {
        migrationsDir: dir,
        timeoutSeconds: 20,
        onEvent: (e) => {
          if (e.type === 'entered' && e.state === 'Back up database') {
            void holder.query('BEGIN; LOCK TABLE items IN ACCESS EXCLUSIVE MODE;');
          }
        },
      },
    );
    await holder.query('ROLLBACK');
    expect(outcome.run.status).toBe('TIMED_OUT');
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate TIMED OUT on ${db.name}`,
      happened: /Timed out after/,
      stateNow: /Unknown until checked/,
      next: /Run `pgshift start verify`/,
    });
  }, 180_000);

  test('an uncatchable error (States.DataLimitExceeded, as the rule delivers it): one alert, watchdog deleted', async () => {
    const dir = await migrationsDir(ONE_MIGRATION);
    const outcome = await runOutcome(
      db,
      { action: 'migrate' },
      {
        migrationsDir: dir,
        // The run stops where AWS would have failed it, and the event is the one AWS sends for that failure
        // (test/workflow/state-budget.test.ts reaches the local runner's own 256 KB limit).
        abortWhen: (e) => e.type === 'entered' && e.state === 'Snapshot schema (before)',
        event: (e) => ({
          ...e,
          detail: {
            ...(e.detail as object),
            status: 'FAILED',
            error: 'States.DataLimitExceeded',
            cause:
              'The state/task returned a result with a size exceeding the maximum number of bytes service limit.',
          },
        }),
      },
    );
    expectOneAlert(outcome, {
      database: db.name,
      action: 'migrate',
      subject: `pgshift migrate FAILED on ${db.name}`,
      happened: /Failed: States\.DataLimitExceeded: The state\/task returned/,
      stateNow: /Unknown: run `pgshift start verify`/,
      next: /A pgshift defect \(a state over 256 KB\).*`pgshift start verify`/,
    });
  }, 180_000);
});
