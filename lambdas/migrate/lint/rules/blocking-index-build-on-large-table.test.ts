import { LARGE, SMALL, ruleFindings } from '../../../../test/helpers/lint-rule';

const RULE = 'blocking-index-build-on-large-table';

describe(RULE, () => {
  test('a plain CREATE INDEX on a large table is an error naming the table, its size and the lock held', async () => {
    const sql = 'SELECT 1;\nCREATE INDEX orders_c ON orders (customer_id);\n';
    expect(await ruleFindings(RULE, sql, LARGE)).toEqual([
      {
        file: '1_m.up.sql',
        line: 2,
        severity: 'error',
        message:
          'This statement builds an index on public.orders: 2048.0 MiB, ~5000000 rows while holding a SHARE lock: writes wait for the whole build.',
      },
    ]);
  });

  test('a UNIQUE constraint builds an index too: on a small table it is a warning', async () => {
    expect(await ruleFindings(RULE, 'ALTER TABLE orders ADD CONSTRAINT u UNIQUE (code);', SMALL)).toEqual([
      {
        file: '1_m.up.sql',
        line: 1,
        severity: 'warning',
        message:
          'This statement builds an index on public.orders: 0.1 MiB, ~300 rows while holding a ACCESS EXCLUSIVE lock: writes wait for the whole build.',
      },
    ]);
  });

  test('CREATE INDEX CONCURRENTLY does not block writes, even on a large table', async () => {
    expect(
      await ruleFindings(RULE, 'CREATE INDEX CONCURRENTLY orders_c ON orders (customer_id);', LARGE),
    ).toEqual([]);
  });

  test('an index on a table created by the same migration is quiet', async () => {
    expect(
      await ruleFindings(RULE, 'CREATE TABLE t (id bigint); CREATE INDEX t_id ON t (id);', LARGE),
    ).toEqual([]);
  });
});
