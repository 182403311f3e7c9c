import { LARGE, ruleFindings } from '../../../../test/helpers/lint-rule';

const RULE = 'set-not-null-without-check';

describe(RULE, () => {
  test('SET NOT NULL on a large table without a validated CHECK is an error naming the column and the scan', async () => {
    const sql =
      'ALTER TABLE orders ADD COLUMN note text;\nALTER TABLE orders ALTER COLUMN email SET NOT NULL;\n';
    expect(await ruleFindings(RULE, sql, LARGE)).toEqual([
      {
        file: '1_m.up.sql',
        line: 2,
        severity: 'error',
        message:
          'SET NOT NULL on "email" scans public.orders: 2048.0 MiB, ~5000000 rows under an ACCESS EXCLUSIVE lock.',
      },
    ]);
  });

  test('a NOT VALID CHECK validated earlier in the same migration makes SET NOT NULL safe', async () => {
    const sql =
      'ALTER TABLE orders ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE orders VALIDATE CONSTRAINT email_nn;\nALTER TABLE orders ALTER COLUMN email SET NOT NULL;';
    expect(await ruleFindings(RULE, sql, LARGE)).toEqual([]);
  });

  test('a validated CHECK already in the catalog makes SET NOT NULL safe', async () => {
    const sql = 'ALTER TABLE orders ALTER COLUMN email SET NOT NULL;';
    expect(await ruleFindings(RULE, sql, { ...LARGE, notNullChecks: ['email'] })).toEqual([]);
  });
});
