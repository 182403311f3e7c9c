import { join } from 'node:path';
import { lintMigrations, loadMigrations } from '../../lambdas/migrate';
import { migrationFromSql as migration } from '../helpers/lint-rule';

// Each pgshift rule's own tests sit beside it (lambdas/migrate/lint/rules/<rule>.test.ts); these run the whole lint.
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
    expect(a?.touches).toEqual([
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
