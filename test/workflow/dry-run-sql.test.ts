/**
 * Issue 17 through the CLI as a user runs it (the `bin/pgshift` executable spawned, the synthesized state machine
 * run locally against the rig): a dry run prints the exact SQL apply sends, checked against what the server
 * received (its log, with log_statement=all on the test database); `pgshift local --migrations-bundle` runs a
 * bundle from the rig's S3 and refuses a tampered one; `pgshift local plan --output` writes the PR's Markdown.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { packMigrations, uploadBundle } from '../../lambdas/migrate';
import { readHistory } from '../../lambdas/shared/history';
import { queryOneRow } from '../../lambdas/shared/db';
import { encryptionParams, getText } from '../../lambdas/shared/s3';
import { EXAMPLES, localFlags, pgshift } from '../helpers/cli';
import { logStatementsOf, serverLogOffset, sessionMatching, statementsSince } from '../helpers/server-log';
import { freshDatabase, rigStore, seedRows, type TestDatabase } from '../rig/helpers';
import { present } from '../helpers/present';

async function appliedVersions(db: TestDatabase): Promise<string[]> {
  const c = await db.client();
  const res = await c.query<{ version: string }>(
    "SELECT version::text FROM pgshift.schema_migrations WHERE to_regclass('pgshift.schema_migrations') IS NOT NULL ORDER BY version",
  );
  return res.rows.map((r) => r.version);
}

async function tableExists(db: TestDatabase, name: string): Promise<boolean> {
  const c = await db.client();
  return (await queryOneRow<{ ok: boolean }>(c, 'SELECT to_regclass($1) IS NOT NULL AS ok', [name])).ok;
}

/** A folder holding the first `count` example migrations (up and down files). */
async function firstExamples(count: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-dry-'));
  await cp(EXAMPLES, dir, {
    recursive: true,
    filter: (src) => src === EXAMPLES || Number(path.basename(src).slice(0, 4)) <= count,
  });
  return dir;
}

describe('a dry run shows its SQL (CLI spawned, state machine run locally)', () => {
  test('the SQL a dry run prints for every example migration is byte for byte what the server received on apply and on downgrade (server log, log_statement=all)', async () => {
    // Prepare
    const db = await freshDatabase('dsql');
    await logStatementsOf(db.name);
    // Act: print, then apply; print the revert of all six, then revert.
    const dry = await pgshift(['local', 'migrate', '--dry-run', '--sql-only', ...localFlags(db)]);
    const beforeApply = await serverLogOffset();
    const apply = await pgshift(['local', 'migrate', ...localFlags(db)]);
    const applied = await statementsSince(beforeApply);
    const dryDown = await pgshift([
      'local',
      'downgrade',
      '--steps',
      '6',
      '--dry-run',
      '--sql-only',
      ...localFlags(db),
    ]);
    const beforeDown = await serverLogOffset();
    const down = await pgshift(['local', 'downgrade', '--steps', '6', ...localFlags(db)]);
    const reverted = await statementsSince(beforeDown);
    // Assess
    expect([dry.code, apply.code, dryDown.code, down.code]).toEqual([0, 0, 0, 0]);
    expect(dry.stdout.startsWith('-- pgshift dry run: 6 pending migration(s)')).toBe(true);
    // Every printed statement, framing included, arrived in order in one session with nothing between them.
    const up = sessionMatching(dry.stdout, applied);
    for (const file of readdirSync(EXAMPLES).filter((f) => f.endsWith('.up.sql'))) {
      expect(dry.stdout).toContain(`(${file}, sha256 `);
    }
    expect(up.matched.filter((s) => s === 'BEGIN')).toHaveLength(6); // 5 transactional files + 1 bookkeeping
    expect(up.matched).toContain(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON app.orders (customer_id)',
    );
    expect(up.matched).toContain("SET LOCAL lock_timeout = '3s'"); // 0005's directive
    expect(up.matched.slice(-1)).toEqual(['COMMIT']);
    // The one statement not printed: 0003's `statement-timeout 2h` is more than the migrate function's 15
    // minutes, so on Lambda pgshift lowers it before that statement (and only there).
    expect(up.caps.map((c) => c.before)).toEqual([
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON app.orders (customer_id)',
    ]);
    const downSession = sessionMatching(dryDown.stdout, reverted);
    expect(downSession.matched).toContain('DROP TABLE app.customers');
    expect(downSession.caps).toEqual([]);
    expect(await appliedVersions(db)).toEqual([]);
    await db.drop();
  }, 400_000);

  test('human output shows the SQL with each finding and lock beside its statement; --json carries the SQL itself', async () => {
    // Prepare
    const db = await freshDatabase('dhum');
    // Act
    const human = await pgshift(['local', 'migrate', '--dry-run', ...localFlags(db)]);
    const json = await pgshift(['local', 'migrate', '--dry-run', '--json', ...localFlags(db)]);
    // Assess
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(
      /ALTER TABLE app\.customers ADD COLUMN phone varchar\(32\);\n-- {3}⚠ warning \[prefer-text-field\] .*\(https:\/\/squawkhq\.com\/docs\/prefer-text-field\)\n-- {3}lock: ACCESS EXCLUSIVE on app\.customers/,
    );
    expect(human.stdout).toMatch(
      /SQL that would run \(s3:\/\/[^/]+\/plans\/.*\/plan\.sql, \d+ bytes, sha256 [0-9a-f]{64}\)/,
    );
    const doc = JSON.parse(json.stdout) as {
      ok: boolean;
      dryRun: { sql: string; sqlObject: { key: string; bytes: number; sha256: string }; scripts: unknown[] };
      results: { plan: { sql: { key: string; sha256: string } } };
    };
    expect(doc.ok).toBe(true);
    expect(doc.dryRun.scripts).toHaveLength(6);
    expect(doc.dryRun.sql).toBe(await getText(rigStore(), doc.results.plan.sql.key));
    expect(createHash('sha256').update(doc.dryRun.sql).digest('hex')).toBe(doc.results.plan.sql.sha256);
    // The execution output carries the SQL's key, size and hash, not the SQL.
    expect(JSON.stringify(doc.results.plan)).not.toContain('CREATE TABLE app.customers');
    expect(await tableExists(db, 'app.customers')).toBe(false);
    await db.drop();
  }, 300_000);

  test('usage: --sql-only needs --dry-run and excludes --json (exit 2)', async () => {
    const noDry = await pgshift(['local', 'migrate', '--sql-only']);
    expect(noDry.code).toBe(2);
    expect(noDry.stderr).toContain('--sql-only prints a dry run');
    const both = await pgshift(['local', 'migrate', '--dry-run', '--sql-only', '--json']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give --sql-only or --json, not both');
  }, 60_000);
});

describe('pgshift local --migrations-bundle (bundle in the rig S3, state machine run locally)', () => {
  test('the bundle is what runs (not the --migrations folder); its sha256 is in history, the plan and the report', async () => {
    // Prepare: the folder given to the deployment holds one migration; the bundle holds all six.
    const db = await freshDatabase('dbun');
    const packed = await packMigrations(EXAMPLES);
    await uploadBundle(rigStore(), packed);
    const onlyFirst = await firstExamples(1);
    // Act
    const ran = await pgshift([
      'local',
      'migrate',
      '--json',
      '--migrations-bundle',
      packed.bundle,
      ...localFlags(db, onlyFirst),
    ]);
    // Assess
    expect(ran.stderr).not.toMatch(/\n\s+at /);
    expect(ran.code).toBe(0);
    const doc = JSON.parse(ran.stdout) as {
      results: { plan: { migrations: unknown }; migrate: { appliedCount: number } };
      written: Record<string, string>;
    };
    expect(doc.results.migrate.appliedCount).toBe(6);
    expect(doc.results.plan.migrations).toEqual({
      source: 'bundle',
      bundle: packed.bundle,
      sha256: packed.sha256,
      count: 6,
    });
    expect(await appliedVersions(db)).toEqual(['1', '2', '3', '4', '5', '6']);
    const history = await readHistory(await db.client());
    expect(
      history.filter((h) => h.event === 'up' && h.status === 'succeeded').map((h) => h.bundleSha256),
    ).toEqual(Array(6).fill(packed.sha256));
    expect(
      await getText(rigStore(), present(doc.written['report.markdown'], 'the report Markdown key')),
    ).toContain(packed.sha256);
    await rm(onlyFirst, { recursive: true });
    await db.drop();
  }, 300_000);

  test('a tampered bundle is refused with MigrationBundleMismatchError (exit 3) and the database is untouched', async () => {
    // Prepare: a bundle of its own (a unique file), then the object at its key replaced by other bytes.
    const db = await freshDatabase('dtam');
    const dir = await firstExamples(2);
    await writeFile(path.join(dir, '0003_marker.up.sql'), `-- ${randomUUID()}\nSELECT 1;\n`);
    const packed = await packMigrations(dir);
    const store = rigStore();
    const tampered = packed.body.replace(
      '"files":[',
      '"files":[{"name":"0000_evil.up.sql","sql":"DROP TABLE x;"},',
    );
    await store.s3.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: packed.bundle,
        Body: tampered,
        ContentType: 'application/json',
        ...encryptionParams(store),
      }),
    );
    // Act
    const ran = await pgshift(['local', 'migrate', '--migrations-bundle', packed.bundle, ...localFlags(db)]);
    // Assess
    expect(ran.code).toBe(3);
    expect(ran.stdout).toContain('MigrationBundleMismatchError');
    expect(ran.stdout).toContain(`hashes to ${createHash('sha256').update(tampered).digest('hex')}`);
    expect(await tableExists(db, 'app.customers')).toBe(false);
    expect(await tableExists(db, 'pgshift.schema_migrations')).toBe(false);
    await rm(dir, { recursive: true });
    await db.drop();
  }, 300_000);

  test("a --migrations-bundle that is not a bundle key is bad input (exit 2), named in the flag's words", async () => {
    const ran = await pgshift(['local', 'migrate', '--migrations-bundle', 'bundles/nope.json']);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain('--migrations-bundle');
  }, 60_000);
});

describe('pgshift local plan --output (Markdown for a pull request)', () => {
  test('pending migrations, the SQL, findings with rule links, tables with sizes and the lock of each statement', async () => {
    // Prepare: two migrations applied and the tables filled, four pending.
    const db = await freshDatabase('dplan');
    const applied = await pgshift(['local', 'migrate', ...localFlags(db, await firstExamples(2))]);
    expect(applied.code).toBe(0);
    const c = await db.client();
    await c.query(
      "INSERT INTO app.customers (email, name) SELECT 'c' || g || '@example.com', 'c' || g FROM generate_series(1, 500) g",
    );
    await c.query('INSERT INTO app.orders (customer_id, amount_cents) SELECT id, 100 FROM app.customers');
    await c.query('ANALYZE app.customers, app.orders');
    await seedRows(db.target, 10);
    const out = path.join(await mkdtemp(path.join(os.tmpdir(), 'pgshift-plan-')), 'plan.md');
    // Act
    const ran = await pgshift([
      'local',
      'plan',
      '--output',
      out,
      '--docs-url',
      'https://example.com/docs',
      ...localFlags(db),
    ]);
    const md = await readFile(out, 'utf8');
    // Assess
    expect(ran.stderr).not.toMatch(/\n\s+at /);
    expect(ran.code).toBe(0);
    expect(ran.stderr).toContain(`plan written to ${out}`);
    expect(md).toContain(`## pgshift plan: \`${db.name}\``);
    expect(md).toContain('**4 pending migration(s)**, lint: 0 error(s), 1 warning(s)');
    expect(md).toContain('Migrations: the files deployed with the migrate function (6 migrations)');
    expect(md).toMatch(
      /\| `0003_index_orders_customer\.up\.sql` \| outside a transaction \| app\.orders \(SHARE UPDATE EXCLUSIVE, [\d.]+ KiB, ~500 rows\) \|/,
    );
    expect(md).toContain('[prefer-text-field](https://squawkhq.com/docs/prefer-text-field)');
    expect(md).toMatch(
      /\| `ALTER TABLE app\.customers ADD COLUMN phone varchar\(32\)` \(line \d+\) \| app\.customers \| ACCESS EXCLUSIVE \| [\d.]+ KiB, ~500 rows \|/,
    );
    expect(md).toContain('```sql\n-- apply 3 index_orders_customer');
    expect(md).toContain(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx ON app.orders (customer_id);',
    );
    expect(await appliedVersions(db)).toEqual(['1', '2']);
    await db.drop();
  }, 400_000);

  test("a plan that apply would refuse exits 3 and still writes the Markdown, the finding linked to pgshift's rule doc", async () => {
    // Prepare: a NOT NULL column without a default on a table with rows (pgshift's own data-aware rule).
    const db = await freshDatabase('dpref');
    await seedRows(db.target, 20);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-plan-src-'));
    await writeFile(
      path.join(dir, '0001_required_note.up.sql'),
      'ALTER TABLE items ADD COLUMN note text NOT NULL;\n',
    );
    const out = path.join(dir, 'plan.md');
    // Act
    const ran = await pgshift(['local', 'plan', '--output', out, ...localFlags(db, dir)]);
    // Assess
    expect(ran.code).toBe(3);
    const md = await readFile(out, 'utf8');
    expect(md).toContain('**Apply would refuse**');
    expect(md).toContain(
      '[not-null-column-without-default](docs/lint-rules.md#not-null-column-without-default)',
    );
    await db.drop();
  }, 300_000);
});
