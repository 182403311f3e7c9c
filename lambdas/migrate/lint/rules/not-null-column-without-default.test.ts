import { EMPTY, SMALL, ruleFindings } from '../../../../test/helpers/lint-rule';

const RULE = 'not-null-column-without-default';

describe(RULE, () => {
  test('adding a NOT NULL column without a default to a table with rows is an error on that statement', async () => {
    const sql = 'CREATE TABLE audit (id bigint);\n\nALTER TABLE orders ADD COLUMN region text NOT NULL;\n';
    expect(await ruleFindings(RULE, sql, SMALL)).toEqual([
      {
        file: '1_m.up.sql',
        line: 3,
        severity: 'error',
        message:
          'Column "region" is added NOT NULL without a default to public.orders, which holds rows: PostgreSQL will refuse it.',
      },
    ]);
  });

  test('a constant default makes the NOT NULL column safe to add', async () => {
    expect(
      await ruleFindings(RULE, "ALTER TABLE orders ADD COLUMN region text NOT NULL DEFAULT 'eu';", SMALL),
    ).toEqual([]);
  });

  test('an empty table takes a NOT NULL column without a default', async () => {
    expect(await ruleFindings(RULE, 'ALTER TABLE orders ADD COLUMN region text NOT NULL;', EMPTY)).toEqual(
      [],
    );
  });
});
