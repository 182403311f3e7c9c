import { LARGE, ruleFindings } from '../../../../test/helpers/lint-rule';

const RULE = 'non-idempotent-no-transaction';

describe(RULE, () => {
  test('a statement without IF NOT EXISTS in a no-transaction migration is a warning on that statement', async () => {
    const sql = '-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY i ON orders (a);';
    expect(await ruleFindings(RULE, sql, LARGE)).toEqual([
      {
        file: '1_m.up.sql',
        line: 2,
        severity: 'warning',
        message:
          'This statement runs outside a transaction and cannot be re-run safely if the migration stops after it.',
      },
    ]);
  });

  test('IF NOT EXISTS makes the statement safe to re-run outside a transaction', async () => {
    const sql = '-- pgshift:no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON orders (a);';
    expect(await ruleFindings(RULE, sql, LARGE)).toEqual([]);
  });

  test('inside a transaction a failed migration rolls back, so the rule is quiet', async () => {
    expect(await ruleFindings(RULE, 'CREATE INDEX i ON orders (a);', LARGE)).toEqual([]);
  });
});
