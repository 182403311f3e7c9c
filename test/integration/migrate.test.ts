/**
 * The migration runner against the rig's real PostgreSQL: plan, dry run, apply, failures, locks, drift,
 * downgrade, baseline, and the half-applied CREATE INDEX CONCURRENTLY recovery.
 */
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Client } from 'pg';
import {
  applyMigrations,
  baselineDatabase,
  downgradeMigrations,
  dryRun,
  lintMigrations,
  loadMigrations,
  planMigrations,
  verifyMigrations,
} from '../../lambdas/migrate';
import { libpqEnv, type DatabaseTarget } from '../../lambdas/shared/db';
import { readAppliedMigrations, readHistory } from '../../lambdas/shared/history';
import { captureLogger } from '../../lambdas/shared/logger';
import { pgToolPath } from '../../lambdas/shared/pgtools';
import { freshDatabase, seedRows, type TestDatabase } from '../rig/helpers';
import { migrationFolder as folder } from '../helpers/migration-folder';
import { present } from '../helpers/present';

const run = promisify(execFile);
const EXAMPLES = join(__dirname, '../../examples/migrations');
const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:migrate-test';

/** The schema as pg_dump --schema-only prints it (what the schema snapshot compares). */
async function schemaDump(target: DatabaseTarget): Promise<string> {
  const { stdout } = await run(pgToolPath('pg_dump'), ['--schema-only', '--no-owner'], {
    env: libpqEnv(target),
  });
  // pg_dump 15.14+ prints a random \restrict key per run; it is not schema.
  return stdout
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict'))
    .join('\n');
}

describe('migration runner (real PostgreSQL)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('mig');
    client = await db.client();
  });
  afterEach(async () => db.drop());

  test('dry run returns the exact framed SQL and findings and changes nothing (schema-only dump identical)', async () => {
    // Prepare
    const migrations = await loadMigrations(EXAMPLES);
    const before = await schemaDump(db.target);
    // Act
    const result = await dryRun(client, migrations, { lockTimeout: '5s', statementTimeout: '15min' });
    // Assess
    expect(await schemaDump(db.target)).toBe(before);
    expect(result.plan.pending.map((m) => m.version)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(result.sql).toContain(
      "BEGIN;\nSET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '15min';",
    );
    expect(result.sql).toContain("SET LOCAL lock_timeout = '3s'");
    expect(result.sql).toContain(
      "SET lock_timeout = '5s';\nSET statement_timeout = '2h';\nCREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON app.orders (customer_id);",
    );
    expect(result.sql).toContain('COMMIT;');
    expect(result.lint).toMatchObject({ errors: 0, warnings: 1, measured: true });
    expect(result.blocking).toBe(false);
  });

  test('apply runs every pending migration with history and progress; a second apply has nothing to do', async () => {
    const migrations = await loadMigrations(EXAMPLES);
    const progress: string[] = [];
    const log = captureLogger();
    const result = await applyMigrations(client, migrations, {
      executionId: EXEC,
      log,
      onProgress: (p) => progress.push(`${p.index}/${p.total} ${p.version}`),
    });
    expect(result.applied.map((a) => a.version)).toEqual(['1', '2', '3', '4', '5', '6']);
    expect(progress).toEqual(['1/6 1', '2/6 2', '3/6 3', '4/6 4', '5/6 5', '6/6 6']);
    const applied = await readAppliedMigrations(client);
    expect(applied.map((a) => [a.version, a.appliedBy, a.direction, a.checksum])).toEqual(
      migrations.map((m) => [m.version, EXEC, 'up', m.checksum]),
    );
    const idx = await client.query(
      "SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass('app.orders_customer_id_idx')",
    );
    expect(idx.rows).toEqual([{ indisvalid: true }]);
    expect(
      (await readHistory(client)).filter((h) => h.event === 'up' && h.status === 'succeeded'),
    ).toHaveLength(6);
    expect(log.text()).not.toContain(db.target.password);
    expect((await applyMigrations(client, migrations, { executionId: EXEC })).applied).toEqual([]);
  });

  test('a failing migration rolls back completely and names file, statement, position and SQLSTATE', async () => {
    // Prepare
    const dir = await folder({
      '1_base.up.sql': 'CREATE TABLE base (id bigint PRIMARY KEY);',
      '2_broken.up.sql':
        'CREATE TABLE half (id bigint);\nINSERT INTO base (id)\n  SELECT id FROM missing_table;\n',
    });
    const migrations = await loadMigrations(dir);
    await applyMigrations(client, migrations.slice(0, 1), { executionId: EXEC });
    const before = await schemaDump(db.target);
    // Act
    const err = await applyMigrations(client, migrations, { executionId: EXEC }).catch((e: unknown) => e);
    // Assess
    expect(err).toMatchObject({
      name: 'MigrationFailedError',
      details: { file: '2_broken.up.sql', sqlState: '42P01', statementIndex: 1, line: 3, version: '2' },
    });
    expect((err as Error).message).toMatch(
      /^2_broken.up.sql:3:\d+: relation "missing_table" does not exist \(SQLSTATE 42P01\)/,
    );
    expect((err as Error).message).toContain('rolled back');
    expect(await schemaDump(db.target)).toBe(before);
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1']);
    const [last] = await readHistory(client, 1);
    expect(last).toMatchObject({ event: 'up', status: 'failed', version: '2' });
  });

  test('a concurrent second apply is refused with MigrationLockedError', async () => {
    const dir = await folder({ '1_slow.up.sql': 'SELECT pg_sleep(1.5);\nCREATE TABLE slow (id bigint);' });
    const migrations = await loadMigrations(dir);
    const other = await db.client();
    await applyMigrations(other, [], { executionId: 'warm-up' }); // creates pgshift's tables first
    const first = applyMigrations(client, migrations, { executionId: 'first' });
    // Wait until the first run holds the advisory lock.
    for (let i = 0; i < 100; i++) {
      const r = await other.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND granted",
      );
      if ((r.rows[0]?.n ?? 0) > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await expect(applyMigrations(other, migrations, { executionId: 'second' })).rejects.toMatchObject({
      name: 'MigrationLockedError',
    });
    expect((await first).applied).toHaveLength(1);
  });

  test('a lock wait beyond lock_timeout raises LockTimeoutError and changes nothing', async () => {
    await client.query('CREATE TABLE busy (id bigint)');
    const dir = await folder({
      '1_alter.up.sql': '-- pgshift:lock-timeout 200ms\nALTER TABLE busy ADD COLUMN note text;',
    });
    const holder = await db.client();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE busy IN ACCESS SHARE MODE');
    try {
      await expect(
        applyMigrations(client, await loadMigrations(dir), { executionId: EXEC }),
      ).rejects.toMatchObject({
        name: 'LockTimeoutError',
        details: { sqlState: '55P03', file: '1_alter.up.sql' },
      });
    } finally {
      await holder.query('ROLLBACK');
    }
    expect(await readAppliedMigrations(client)).toEqual([]);
    const cols = await client.query(
      "SELECT column_name FROM information_schema.columns WHERE table_name = 'busy'",
    );
    expect(cols.rows).toEqual([{ column_name: 'id' }]);
  });

  test('a lock timeout after earlier statements of a no-transaction migration ran raises PartialMigrationError (not retried), naming what ran', async () => {
    await client.query('CREATE TABLE busy (id bigint)');
    const dir = await folder({
      '1_partial.up.sql':
        '-- pgshift:no-transaction\n-- pgshift:lock-timeout 200ms\nCREATE TABLE first_done (id bigint);\nALTER TABLE busy ADD COLUMN note text;\n',
    });
    const holder = await db.client();
    await holder.query('BEGIN');
    await holder.query('LOCK TABLE busy IN ACCESS SHARE MODE');
    let err: unknown;
    try {
      err = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC }).catch(
        (e: unknown) => e,
      );
    } finally {
      await holder.query('ROLLBACK');
    }
    expect(err).toMatchObject({
      name: 'PartialMigrationError',
      details: {
        sqlState: '55P03',
        file: '1_partial.up.sql',
        statementIndex: 1,
        ran: [expect.stringContaining('CREATE TABLE first_done')],
      },
    });
    const message = (err as Error).message;
    expect(message).toContain('CREATE TABLE first_done');
    expect(message).not.toContain('Retrying later is safe');
    expect(message).toMatch(/do not re-run it as is/i);
    // The first statement really stayed applied; the migration is recorded as failed, not applied.
    const t = await client.query<{ t: string | null }>("SELECT to_regclass('public.first_done') AS t");
    expect(t.rows[0]?.t).toBe('first_done');
    expect(await readAppliedMigrations(client)).toEqual([]);
  });

  test('checksum drift, missing files and out-of-order versions are reported by verify; apply refuses drift', async () => {
    const dir = await folder({}, EXAMPLES);
    await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC });
    expect(await verifyMigrations(client, await loadMigrations(dir))).toMatchObject({
      ok: true,
      severity: 'ok',
    });
    // Edit an applied file, add a late lower version, and remove an applied file.
    await writeFile(
      join(dir, '0004_add_customer_phone.up.sql'),
      'ALTER TABLE app.customers ADD COLUMN phone text;',
    );
    await writeFile(join(dir, '0000_late.up.sql'), 'SELECT 1;');
    const edited = (await loadMigrations(dir)).filter((m) => m.version !== '6');
    const status = await verifyMigrations(client, edited);
    expect(status).toMatchObject({
      ok: false,
      severity: 'error',
      checksumMismatches: [{ version: '4', name: 'add_customer_phone' }],
      missingFiles: [{ version: '6', name: 'validate_order_status' }],
      outOfOrder: ['0'],
      alembicVersion: null,
    });
    expect(status.serverVersion).toMatch(/^\d+/);
    expect(status.problems.join('\n')).toMatch(/edited after it was applied/);
    await expect(applyMigrations(client, edited, { executionId: EXEC })).rejects.toMatchObject({
      name: 'DriftDetectedError',
    });
  });

  test('downgrade (dry run changes nothing), then re-apply, returns the same schema', async () => {
    const migrations = await loadMigrations(EXAMPLES);
    await applyMigrations(client, migrations.slice(0, 2), { executionId: EXEC });
    const atTwo = await schemaDump(db.target);
    await applyMigrations(client, migrations, { executionId: EXEC });
    const atSix = await schemaDump(db.target);
    // Dry run: SQL only
    const dry = await downgradeMigrations(client, migrations, {
      executionId: EXEC,
      toVersion: '2',
      dryRun: true,
    });
    expect(dry.reverted.map((r) => r.version)).toEqual(['6', '5', '4', '3']);
    expect(dry.sql).toContain('DROP INDEX CONCURRENTLY IF EXISTS app.orders_customer_id_idx;');
    expect(await schemaDump(db.target)).toBe(atSix);
    // Real downgrade
    const down = await downgradeMigrations(client, migrations, { executionId: EXEC, toVersion: '2' });
    expect(down.reverted.map((r) => r.version)).toEqual(['6', '5', '4', '3']);
    expect(await schemaDump(db.target)).toBe(atTwo);
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1', '2']);
    await applyMigrations(client, migrations, { executionId: EXEC });
    expect(await schemaDump(db.target)).toBe(atSix);
    // steps: 1 reverts only the newest
    expect(
      (await downgradeMigrations(client, migrations, { executionId: EXEC, steps: 1 })).reverted,
    ).toMatchObject([{ version: '6' }]);
  });

  test('downgrade refuses before touching anything when a needed down file is missing', async () => {
    const dir = await folder({
      '1_a.up.sql': 'CREATE TABLE a (id bigint);',
      '1_a.down.sql': 'DROP TABLE a;',
      '2_b.up.sql': 'CREATE TABLE b (id bigint);',
    });
    const migrations = await loadMigrations(dir);
    await applyMigrations(client, migrations, { executionId: EXEC });
    await expect(
      downgradeMigrations(client, migrations, { executionId: EXEC, steps: 2 }),
    ).rejects.toMatchObject({
      name: 'MigrationFileError',
      message: expect.stringMatching(/2_b.up.sql has no down migration/),
    });
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1', '2']);
  });

  test('a failed CREATE INDEX CONCURRENTLY is reported with the INVALID index it left; re-running after the fix is safe', async () => {
    // Prepare: duplicates make the unique build fail after the index entry exists.
    await client.query(
      "CREATE TABLE emails (id bigint, address text); INSERT INTO emails VALUES (1, 'a@x'), (2, 'a@x')",
    );
    const dir = await folder({
      '1_unique_email.up.sql':
        '-- pgshift:no-transaction\nCREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS emails_address_key ON emails (address);\n',
    });
    const migrations = await loadMigrations(dir);
    // Act
    const err = await applyMigrations(client, migrations, { executionId: EXEC }).catch((e: unknown) => e);
    // Assess
    expect(err).toMatchObject({
      name: 'MigrationFailedError',
      details: {
        sqlState: '23505',
        invalidIndexes: [{ schema: 'public', index: 'emails_address_key', table: 'emails' }],
      },
    });
    expect((err as Error).message).toContain('DROP INDEX CONCURRENTLY IF EXISTS public.emails_address_key;');
    const status = await verifyMigrations(client, migrations);
    expect(status).toMatchObject({
      ok: false,
      failed: [{ version: '1', invalidIndexes: [{ index: 'emails_address_key' }] }],
    });
    expect(status.problems[0]).toContain('DROP INDEX CONCURRENTLY IF EXISTS public.emails_address_key;');
    // Re-running without the fix is refused (IF NOT EXISTS would keep the INVALID index).
    await expect(applyMigrations(client, migrations, { executionId: EXEC })).rejects.toMatchObject({
      name: 'MigrationFailedError',
      message: expect.stringMatching(/earlier failed run left INVALID index/),
    });
    // Fix: remove the duplicate and drop the invalid index, then re-run.
    await client.query('DELETE FROM emails WHERE id = 2');
    await client.query('DROP INDEX CONCURRENTLY IF EXISTS public.emails_address_key');
    expect((await applyMigrations(client, migrations, { executionId: EXEC })).applied).toHaveLength(1);
    expect(await verifyMigrations(client, migrations)).toMatchObject({
      ok: true,
      failed: [],
      invalidIndexes: [],
    });
  });

  test('data-aware lint: sizes and rows from the catalog decide severity; errors block apply unless allowUnsafe', async () => {
    await seedRows(db.target, 2000);
    await client.query('ANALYZE items');
    await client.query('CREATE TABLE empty_t (id bigint, v text)');
    const dir = await folder({
      '1_required.up.sql': 'ALTER TABLE items ADD COLUMN region text NOT NULL;',
      '2_index.up.sql':
        'CREATE INDEX items_body_idx ON items (body);\nCREATE INDEX empty_v_idx ON empty_t (v);',
    });
    const migrations = await loadMigrations(dir);
    const lint = await lintMigrations(migrations, { client, thresholds: { largeTableRows: 1000 } });
    const rules = lint.findings.map((f) => [f.version, f.rule, f.severity, f.line]);
    expect(rules).toEqual(
      expect.arrayContaining([
        ['1', 'not-null-column-without-default', 'error', 1],
        ['2', 'blocking-index-build-on-large-table', 'error', 1],
        ['2', 'require-concurrent-index-creation', 'error', 1],
        // The empty table's index build holds its lock only briefly: lowered to a warning.
        ['2', 'require-concurrent-index-creation', 'warning', 2],
      ]),
    );
    const touch = present(lint.analyses[1]?.touches[0], "the second migration's touch");
    expect(touch).toMatchObject({ schema: 'public', table: 'items', lock: 'SHARE', indexBuild: true });
    expect(touch.sizeBytes).toBeGreaterThan(0);
    expect(touch.estimatedRows).toBe(2000);
    // Blocking (pgshift's own tables exist first: apply creates them before it lints)
    await applyMigrations(client, [], { executionId: 'warm-up' });
    const before = await schemaDump(db.target);
    await expect(
      applyMigrations(client, migrations.slice(1), {
        executionId: EXEC,
        lint: { thresholds: { largeTableRows: 1000 } },
      }),
    ).rejects.toMatchObject({
      name: 'UnsafeMigrationError',
    });
    expect(await schemaDump(db.target)).toBe(before);
    const forced = await applyMigrations(client, migrations.slice(1), {
      executionId: EXEC,
      allowUnsafe: true,
      allowOutOfOrder: true,
    });
    expect(forced.applied).toHaveLength(1);
  });

  test('baseline marks an Alembic-managed database without running anything; verify shows alembic_version', async () => {
    await client.query(
      "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY); INSERT INTO alembic_version VALUES ('ae1027a6acf')",
    );
    await client.query('CREATE SCHEMA app; CREATE TABLE app.customers (id bigint)');
    const migrations = await loadMigrations(EXAMPLES);
    const before = await schemaDump(db.target);
    const result = await baselineDatabase(client, migrations, { toVersion: '2', executionId: EXEC });
    expect(result).toMatchObject({
      version: '2',
      marked: [{ version: '1' }, { version: '2' }],
      alembicVersion: ['ae1027a6acf'],
    });
    expect((await readAppliedMigrations(client)).map((a) => [a.version, a.direction])).toEqual([
      ['1', 'baseline'],
      ['2', 'baseline'],
    ]);
    expect((await planMigrations(client, migrations)).pending.map((m) => m.version)).toEqual([
      '3',
      '4',
      '5',
      '6',
    ]);
    const after = await schemaDump(db.target);
    expect(after.replace(/[\s\S]*?(?=CREATE TABLE public.alembic_version)/, '')).toContain('alembic_version');
    expect(await verifyMigrations(client, migrations)).toMatchObject({
      ok: true,
      severity: 'warning',
      alembicVersion: ['ae1027a6acf'],
    });
    expect(before).not.toContain('pgshift');
    await expect(
      baselineDatabase(client, migrations, { toVersion: '2', executionId: EXEC }),
    ).rejects.toMatchObject({ name: 'DriftDetectedError' });
    await expect(
      baselineDatabase(client, migrations, { toVersion: '99', executionId: EXEC }),
    ).rejects.toMatchObject({ name: 'MigrationFileError' });
  });
});
