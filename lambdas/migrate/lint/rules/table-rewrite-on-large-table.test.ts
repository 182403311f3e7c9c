import { EMPTY, LARGE, SMALL, ruleFindings } from '../../../../test/helpers/lint-rule';

const RULE = 'table-rewrite-on-large-table';

describe(RULE, () => {
  test('changing a column type on a large table is an error naming the table, its size and the lock', async () => {
    const sql = '-- widen the amounts\nALTER TABLE orders\n  ALTER COLUMN amount TYPE numeric;\n';
    expect(await ruleFindings(RULE, sql, LARGE)).toEqual([
      {
        file: '1_m.up.sql',
        line: 2,
        severity: 'error',
        message:
          'This statement rewrites public.orders: 2048.0 MiB, ~5000000 rows under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes.',
      },
    ]);
  });

  test('a volatile default rewrites a small table, which is a warning', async () => {
    const sql = 'ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid();';
    expect(await ruleFindings(RULE, sql, SMALL)).toEqual([
      {
        file: '1_m.up.sql',
        line: 1,
        severity: 'warning',
        message:
          'This statement rewrites public.orders: 0.1 MiB, ~300 rows under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes.',
      },
    ]);
  });

  test('a constant default does not rewrite even a large table', async () => {
    expect(
      await ruleFindings(RULE, "ALTER TABLE orders ADD COLUMN note text DEFAULT 'none';", LARGE),
    ).toEqual([]);
  });

  test('rewriting an empty table is quiet', async () => {
    expect(await ruleFindings(RULE, 'ALTER TABLE orders ALTER COLUMN amount TYPE numeric;', EMPTY)).toEqual(
      [],
    );
  });
});
