/**
 * Migrations longer than Lambda's time (issue 15), on the synthesized state machine executed locally with the
 * Fargate task run from the image's file tree (test/workflow/harness.ts). The stack is synthesized with a
 * 30-second migrate function (`workflow.migrateTimeoutSeconds`, margin 5 s) so a budget runs out in seconds,
 * and pre-flight's rewrite rate (`PGSHIFT_PREFLIGHT_REWRITE_BYTES_PER_SECOND`, an operator setting) is set
 * from the test table's measured size so its estimate is known: the knobs a deployment has, made small.
 */
import type { Client } from 'pg';
import { queryOneRow } from '../../lambdas/shared/db';
import type { RecordedCall } from '../../bin/cli/aws-gateway';
import type { SynthesizedAssembly } from '../../bin/cli/synth';
import { freshDatabase, type TestDatabase } from '../rig/helpers';
import { EXAMPLE_MIGRATIONS, runWorkflow, synthesizedAssemblyWith, type RunOptions } from './harness';
import { migrationFolder as folder } from '../helpers/migration-folder';

const MIGRATE_TIMEOUT_SECONDS = 30;

async function appliedVersions(client: Client): Promise<string[]> {
  const { rows } = await client.query<{ version: string }>(
    'SELECT version::text FROM pgshift.schema_migrations ORDER BY version',
  );
  return rows.map((r) => r.version);
}

/** A table whose rewrite pre-flight estimates, vacuumed so its size (FSM and VM forks included) stays put. */
async function bigTable(db: TestDatabase): Promise<{ client: Client; bytes: number }> {
  const client = await db.client();
  await client.query('CREATE TABLE big (id int, v int)');
  await client.query('INSERT INTO big SELECT g, g FROM generate_series(1, 2000) g');
  await client.query('VACUUM ANALYZE big');
  const { bytes } = await queryOneRow<{ bytes: string }>(
    client,
    "SELECT (pg_table_size('big') + pg_indexes_size('big'))::text AS bytes",
  );
  return { client, bytes: Number(bytes) };
}

/** Pre-flight's rewrite rate that makes rewriting `bytes` take `seconds`. */
function rateFor(bytes: number, seconds: number): Record<string, string> {
  return { PGSHIFT_PREFLIGHT_REWRITE_BYTES_PER_SECOND: String(Math.max(1, Math.floor(bytes / seconds))) };
}

const REWRITE_BIG = '000002_widen_big.up.sql';
const REWRITE_SQL = 'ALTER TABLE big ALTER COLUMN v TYPE bigint;\n';

function timeoutsCheck(run: Awaited<ReturnType<typeof runWorkflow>>) {
  const checks = (run.state?.results.preflight?.checks ?? []) as {
    id: string;
    status: string;
    message: string;
  }[];
  return checks.find((c) => c.id === 'timeouts');
}

describe('long migrations: the Lambda budget and the Fargate path', () => {
  let assembly: SynthesizedAssembly;
  beforeAll(() => {
    assembly = synthesizedAssemblyWith({ migrateTimeoutSeconds: MIGRATE_TIMEOUT_SECONDS });
  }, 300_000);

  /** A migrate run of the one rewrite of `big`, which pre-flight estimates at `seconds(bytes)`. */
  async function migrateRewrite(seconds: (bytes: number) => number, extra: Partial<RunOptions> = {}) {
    const db = await freshDatabase('wfl');
    const { client, bytes } = await bigTable(db);
    const migrationsDir = await folder({ [REWRITE_BIG]: REWRITE_SQL });
    const run = await runWorkflow(
      { action: 'migrate', allowUnsafe: true },
      {
        databaseUrl: db.url,
        database: db.name,
        migrationsDir,
        assembly,
        extraEnv: rateFor(bytes, seconds(bytes)),
        ...extra,
      },
    );
    return { db, client, run };
  }

  test('pre-flight sends a migration too long for Lambda to Fargate, which applies it', async () => {
    // Prepare: the rewrite is estimated at ~60 s, more than half the 30 s function's budget.
    let calls: RecordedCall[] = [];
    // Act
    const { db, client, run } = await migrateRewrite(() => 60, {
      inspect: (d) => void (calls = [...d.calls]),
    });
    // Assess
    expect(run.error).toBeUndefined();
    const r = run.state!.results;
    expect(r.preflight?.applyRunner).toBe('fargate');
    expect(timeoutsCheck(run)).toMatchObject({
      status: 'warn',
      message: expect.stringContaining('will run on Fargate'),
    });
    const states = run.visited.map((v) => v.state);
    expect(states).toEqual(
      expect.arrayContaining(['Apply runner?', 'Apply migrations (Fargate)', 'Read Fargate apply result']),
    );
    expect(states).not.toContain('Apply migrations');
    expect(r.migrate).toMatchObject({ runner: 'fargate', appliedCount: 1, applied: [{ version: '2' }] });
    expect(await appliedVersions(client)).toEqual(['2']);
    const type = await client.query<{ t: string }>(
      "SELECT format_type(atttypid, NULL) AS t FROM pg_attribute WHERE attrelid = 'big'::regclass AND attname = 'v'",
    );
    expect(type.rows[0]?.t).toBe('bigint');
    // The task read the database secret and wrote its result as the task role (IAM-simulated by runWorkflow).
    expect(calls.filter((c) => c.caller === 'FargateTask').map((c) => c.operation)).toEqual(
      expect.arrayContaining(['GetSecretValue', 'PutObject']),
    );
    await db.drop();
  }, 240_000);

  test('Lambda stops between migrations when the next one no longer fits; the state machine continues on Fargate', async () => {
    // Prepare: 1 sleeps 17 s (pre-flight cannot see that), 2 is estimated at ~8.5 s: together they fit
    // pre-flight's estimate for the 30 s function, but after 1 less than 8.5 s + the 5 s margin is left.
    const db = await freshDatabase('wfl');
    const { client, bytes } = await bigTable(db);
    const migrationsDir = await folder({
      '000001_slow.up.sql': 'SELECT pg_sleep(17);\n',
      [REWRITE_BIG]: REWRITE_SQL,
    });
    // Act
    const run = await runWorkflow(
      { action: 'migrate', allowUnsafe: true },
      { databaseUrl: db.url, database: db.name, migrationsDir, assembly, extraEnv: rateFor(bytes, 8.5) },
    );
    // Assess
    expect(run.error).toBeUndefined();
    const r = run.state!.results;
    expect(r.preflight?.applyRunner).toBe('lambda');
    expect(run.visited.filter((v) => v.state === 'Apply migrations').map((v) => v.outcome)).toEqual([
      'caught',
    ]);
    expect(run.visited.map((v) => v.state)).toEqual(
      expect.arrayContaining([
        'Apply migrations (Fargate)',
        'Read Fargate apply result',
        'Snapshot schema (after)',
      ]),
    );
    const stopped = r.migrateStopped as unknown as { Error: string; Cause: string };
    expect(stopped.Error).toBe('MigrationTimeBudgetError');
    expect(stopped.Cause).toContain('Applied in this run and recorded: 1_slow');
    expect(stopped.Cause).toContain('still pending: 2_widen_big');
    expect(r.migrate).toMatchObject({ runner: 'fargate', alreadyApplied: 1, applied: [{ version: '2' }] });
    expect(await appliedVersions(client)).toEqual(['1', '2']);
    await db.drop();
  }, 240_000);

  test('runner "fargate" applies and downgrades on Fargate', async () => {
    // Prepare
    const db = await freshDatabase('wfl');
    const client = await db.client();
    // Act
    const migrate = await runWorkflow(
      { action: 'migrate', runner: 'fargate' },
      { databaseUrl: db.url, database: db.name, migrationsDir: EXAMPLE_MIGRATIONS, assembly },
    );
    const downgrade = await runWorkflow(
      { action: 'downgrade', runner: 'fargate', steps: 1 },
      { databaseUrl: db.url, database: db.name, migrationsDir: EXAMPLE_MIGRATIONS, assembly },
    );
    // Assess
    expect(migrate.error).toBeUndefined();
    expect(migrate.visited.map((v) => v.state)).toContain('Apply migrations (Fargate)');
    expect(migrate.state!.results.migrate).toMatchObject({ runner: 'fargate', appliedCount: 6 });
    expect(downgrade.error).toBeUndefined();
    expect(downgrade.visited.map((v) => v.state)).toEqual(
      expect.arrayContaining(['Downgrade runner?', 'Downgrade migrations (Fargate)']),
    );
    expect(downgrade.visited.map((v) => v.state)).not.toContain('Downgrade migrations');
    expect(downgrade.state!.results.migrate).toMatchObject({ runner: 'fargate', revertedCount: 1 });
    expect(await appliedVersions(client)).toEqual(['1', '2', '3', '4', '5']);
    await db.drop();
  }, 300_000);

  test('pre-flight refuses a migration no runner can fit, before the backup', async () => {
    // Prepare: 1 byte/s, a day of rewriting for the ~100 KB table: beyond the Fargate task's 12 hours (and the
    // statement_timeout).
    // Act
    const { db, client, run } = await migrateRewrite((bytes) => bytes);
    // Assess
    expect(run.error?.name).toBe('PreflightFailedError');
    const check = timeoutsCheck(run);
    expect(check?.status).toBe('fail');
    expect(check?.message).toContain("the Fargate task's timeout (fargateTimeout) is 12h 0m");
    expect(check?.message).toContain('longer than its statement_timeout');
    expect(run.visited.map((v) => v.state)).not.toContain('Back up database');
    const { rows } = await client.query<{ absent: boolean }>(
      "SELECT to_regclass('pgshift.schema_migrations') IS NULL AS absent",
    );
    expect(rows[0]?.absent).toBe(true);
    await db.drop();
  }, 240_000);

  test('a lock timeout after statements of a no-transaction migration ran is not retried', async () => {
    // Prepare: an application transaction holds big from the moment apply starts.
    const db = await freshDatabase('wfl');
    const { client } = await bigTable(db);
    const holder = await db.client();
    const migrationsDir = await folder({
      '000001_partial.up.sql':
        '-- pgshift:no-transaction\nCREATE TABLE side (id int);\nSELECT pg_sleep(1);\nALTER TABLE big ADD COLUMN note text;\n',
    });
    // Act
    const run = await runWorkflow(
      { action: 'migrate' },
      {
        databaseUrl: db.url,
        database: db.name,
        migrationsDir,
        assembly,
        onEvent: (e) => {
          if (e.type === 'entered' && e.state === 'Apply migrations') {
            void holder.query('BEGIN; LOCK TABLE big IN ACCESS SHARE MODE;');
          }
        },
      },
    );
    await holder.query('COMMIT');
    // Assess: failed once, never retried (a retry would run CREATE TABLE side again), and alerted.
    expect(run.error?.name).toBe('PartialMigrationError');
    expect(run.visited.filter((v) => v.state === 'Apply migrations').map((v) => v.outcome)).toEqual([
      'caught',
    ]);
    expect(run.visited.map((v) => v.state)).toEqual(expect.arrayContaining(['Notify failure', 'Failed']));
    const side = await client.query<{ present: boolean }>(
      "SELECT to_regclass('side') IS NOT NULL AS present",
    );
    expect(side.rows[0]?.present).toBe(true);
    await db.drop();
  }, 240_000);
});
