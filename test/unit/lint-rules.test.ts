import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lintMigrations, loadMigrations, PGSHIFT_RULES } from '../../lambdas/migrate';
import { statementTouches } from '../../lambdas/migrate/lint/analyze';
import { DEFAULT_THRESHOLDS, type MeasuredTouch, type RuleContext } from '../../lambdas/migrate/lint/rule';
import { parseStatements } from '../../lambdas/migrate/statements';
import type { Migration } from '../../lambdas/migrate/types';

async function migration(sql: string, name = '1_m.up.sql'): Promise<Migration> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-lint-'));
  await writeFile(join(dir, name), sql);
  return (await loadMigrations(dir))[0];
}

const LARGE = { sizeBytes: 2 * 1024 ** 3, estimatedRows: 5_000_000, hasRows: true };
const SMALL = { sizeBytes: 64 * 1024, estimatedRows: 300, hasRows: true };
const EMPTY = { sizeBytes: 8192, estimatedRows: 0, hasRows: false };

/** The context a rule sees, with every existing table measured as `size` (what the catalog would say). */
async function context(sql: string, size: Partial<MeasuredTouch>): Promise<RuleContext> {
  const m = await migration(sql);
  const statements = parseStatements(m.up.sql, m.file);
  const created = new Set<string>();
  const touches = statements.map((s) =>
    statementTouches(s, created).map((t) => ({
      ...t,
      schema: t.schema ?? 'public',
      ...(t.createdHere ? {} : size),
    })),
  );
  return { migration: m, statements, touches, measured: true, thresholds: DEFAULT_THRESHOLDS };
}

function rule(id: string) {
  const r = PGSHIFT_RULES.find((x) => x.id === id);
  if (!r) throw new Error(`no rule ${id}`);
  return r;
}

async function expectFindings(
  id: string,
  sql: string,
  size: Partial<MeasuredTouch>,
  severity: 'error' | 'warning',
) {
  const hits = rule(id).check(await context(sql, size));
  expect(hits.length).toBeGreaterThan(0);
  expect(hits[0].severity).toBe(severity);
  expect(hits[0].message.length).toBeGreaterThan(10);
}

async function expectClean(id: string, sql: string, size: Partial<MeasuredTouch>) {
  expect(rule(id).check(await context(sql, size))).toEqual([]);
}

describe('pgshift lint rules: each fires on its example and stays quiet on the safe form', () => {
  test('not-null-column-without-default', async () => {
    await expectFindings(
      'not-null-column-without-default',
      'ALTER TABLE orders ADD COLUMN region text NOT NULL;',
      SMALL,
      'error',
    );
    await expectClean(
      'not-null-column-without-default',
      "ALTER TABLE orders ADD COLUMN region text NOT NULL DEFAULT 'eu';",
      SMALL,
    );
    await expectClean(
      'not-null-column-without-default',
      'ALTER TABLE orders ADD COLUMN region text NOT NULL;',
      EMPTY,
    );
  });

  test('table-rewrite-on-large-table (error when large, warning when small, quiet when empty)', async () => {
    await expectFindings(
      'table-rewrite-on-large-table',
      'ALTER TABLE orders ALTER COLUMN amount TYPE numeric;',
      LARGE,
      'error',
    );
    await expectFindings(
      'table-rewrite-on-large-table',
      'ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();',
      SMALL,
      'warning',
    );
    await expectClean(
      'table-rewrite-on-large-table',
      "ALTER TABLE orders ADD COLUMN note text DEFAULT 'none';",
      LARGE,
    );
    await expectClean(
      'table-rewrite-on-large-table',
      'ALTER TABLE orders ALTER COLUMN amount TYPE numeric;',
      EMPTY,
    );
  });

  test('blocking-index-build-on-large-table', async () => {
    await expectFindings(
      'blocking-index-build-on-large-table',
      'CREATE INDEX orders_c ON orders (customer_id);',
      LARGE,
      'error',
    );
    await expectFindings(
      'blocking-index-build-on-large-table',
      'ALTER TABLE orders ADD CONSTRAINT u UNIQUE (code);',
      SMALL,
      'warning',
    );
    await expectClean(
      'blocking-index-build-on-large-table',
      'CREATE INDEX CONCURRENTLY orders_c ON orders (customer_id);',
      LARGE,
    );
    await expectClean(
      'blocking-index-build-on-large-table',
      'CREATE TABLE t (id bigint); CREATE INDEX t_id ON t (id);',
      LARGE,
    );
  });

  test('set-not-null-without-check', async () => {
    await expectFindings(
      'set-not-null-without-check',
      'ALTER TABLE orders ALTER COLUMN email SET NOT NULL;',
      LARGE,
      'error',
    );
    await expectClean(
      'set-not-null-without-check',
      'ALTER TABLE orders ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT email_nn;\nALTER TABLE orders ALTER COLUMN email SET NOT NULL;',
      LARGE,
    );
    await expectClean('set-not-null-without-check', 'ALTER TABLE orders ALTER COLUMN email SET NOT NULL;', {
      ...LARGE,
      notNullChecks: ['email'],
    });
  });

  test('non-idempotent-no-transaction', async () => {
    await expectFindings(
      'non-idempotent-no-transaction',
      '-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY i ON orders (a);',
      LARGE,
      'warning',
    );
    await expectClean(
      'non-idempotent-no-transaction',
      '-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON orders (a);',
      LARGE,
    );
    await expectClean('non-idempotent-no-transaction', 'CREATE INDEX i ON orders (a);', LARGE);
  });
});

describe('lintMigrations offline (Squawk + pgshift rules, no database)', () => {
  test("Squawk's findings come through with rule ids, 1-based locations, severities and the statement", async () => {
    const m = await migration(
      'CREATE TABLE t (id bigint);\nALTER TABLE orders\n  ADD COLUMN note varchar(20);\nCREATE INDEX i ON orders (a);\n',
    );
    const result = await lintMigrations([m]);
    const text = result.findings.find((f) => f.rule === 'prefer-text-field');
    expect(text).toMatchObject({
      source: 'squawk',
      severity: 'warning',
      line: 3,
      file: '1_m.up.sql',
      statement: 'ALTER TABLE orders ADD COLUMN note varchar(20)',
    });
    expect(result.findings.find((f) => f.rule === 'require-concurrent-index-creation')).toMatchObject({
      severity: 'error',
      line: 4,
      column: 1,
    });
    // pgshift sets both timeouts itself, so Squawk's timeout rules are off.
    expect(result.findings.some((f) => f.rule.startsWith('require-') && f.rule.endsWith('timeout'))).toBe(
      false,
    );
    expect(result.errors).toBe(1);
    expect(result.measured).toBe(false);
  });

  test('-- pgshift:allow waives a rule for the whole next statement (Squawk and pgshift rules) and is reported', async () => {
    const m = await migration(
      '-- pgshift:allow require-concurrent-index-creation table is tiny\nCREATE INDEX i\n  ON orders (a);\nCREATE INDEX j ON orders (b);\n',
    );
    const result = await lintMigrations([m]);
    expect(
      result.findings.filter((f) => f.rule === 'require-concurrent-index-creation').map((f) => f.line),
    ).toEqual([4]);
    expect(result.allowed).toEqual([
      { version: '1', rule: 'require-concurrent-index-creation', reason: 'table is tiny', line: 1 },
    ]);
  });

  test('CONCURRENTLY alone in a file lints as run outside a transaction; mixed with other statements the folder is refused', async () => {
    // A single statement: pgshift runs it without a transaction, so Squawk must not assume one.
    const single = await migration('CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON orders (a);\n');
    expect(single.up.noTransaction).toBe(true);
    expect((await lintMigrations([single])).findings.map((f) => f.rule)).toEqual([]);
    // Mixed: refused when the folder is loaded, before any lint or database.
    await expect(
      migration(
        'CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON orders (a);\nALTER TABLE orders ADD COLUMN n text;\n',
      ),
    ).rejects.toMatchObject({
      name: 'MigrationFileError',
      message: expect.stringMatching(
        /1_m\.up\.sql:1: CREATE INDEX CONCURRENTLY .* cannot run inside a transaction/,
      ),
    });
  });

  test('severities are configurable per rule', async () => {
    const m = await migration(
      'ALTER TABLE orders ADD COLUMN n varchar(3);\nALTER TABLE orders DROP COLUMN old;\n',
    );
    const result = await lintMigrations([m], {
      severities: { 'ban-drop-column': 'warning', 'prefer-text-field': 'off' },
    });
    expect(result.findings.map((f) => [f.rule, f.severity])).toEqual([['ban-drop-column', 'warning']]);
  });

  test('analysis: tables touched and lock levels per statement', async () => {
    const m = await migration(
      '-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON app.orders (a);\nALTER TABLE app.orders ALTER COLUMN b TYPE bigint;\n',
    );
    const [a] = (await lintMigrations([m])).analyses;
    expect(a).toMatchObject({
      version: '1',
      noTransaction: true,
      lockTimeout: '5s',
      statementTimeout: '15min',
    });
    expect(a.touches).toEqual([
      {
        schema: 'app',
        table: 'orders',
        lock: 'SHARE UPDATE EXCLUSIVE',
        rewrite: false,
        indexBuild: true,
        fullScan: true,
        statementIndex: 0,
      },
      {
        schema: 'app',
        table: 'orders',
        lock: 'ACCESS EXCLUSIVE',
        rewrite: true,
        indexBuild: false,
        fullScan: false,
        statementIndex: 1,
      },
    ]);
  });

  test('the example migrations lint with exactly one warning and no error', async () => {
    const result = await lintMigrations(await loadMigrations(join(__dirname, '../../examples/migrations')));
    expect(result.errors).toBe(0);
    expect(result.findings.map((f) => [f.version, f.rule, f.severity])).toEqual([
      ['4', 'prefer-text-field', 'warning'],
    ]);
  });
});
