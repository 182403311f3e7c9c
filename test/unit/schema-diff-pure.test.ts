/** The pure parts of the schema diff: type-change verdicts, Markdown escaping, the unified diff. */
import {
  classifyTypeChange,
  mdCode,
  renderDiffMarkdown,
  unifiedSchemaDiff,
  type SchemaDiff,
} from '../../lambdas/schema';
import { escapeHtml } from '../../lambdas/report';

describe('classifyTypeChange', () => {
  test.each([
    ['integer', 'bigint', 'widening'],
    ['bigint', 'integer', 'narrowing'],
    ['character varying(40)', 'character varying(80)', 'widening'],
    ['character varying(40)', 'character varying(20)', 'narrowing'],
    ['character varying(40)', 'text', 'widening'],
    ['text', 'character varying(255)', 'narrowing'],
    ['numeric(10,2)', 'numeric(12,2)', 'widening'],
    ['numeric(10,2)', 'numeric(10,3)', 'narrowing'],
    ['numeric(10,2)', 'numeric', 'widening'],
    ['numeric', 'numeric(20,2)', 'narrowing'],
    ['integer', 'numeric(10,0)', 'widening'],
    ['bigint', 'numeric(10,0)', 'narrowing'],
    ['timestamp without time zone', 'timestamp with time zone', 'widening'],
    ['timestamp with time zone', 'timestamp without time zone', 'narrowing'],
    ['timestamp with time zone', 'date', 'narrowing'],
    ['date', 'timestamp with time zone', 'widening'],
    ['real', 'double precision', 'widening'],
    ['double precision', 'real', 'narrowing'],
    ['integer[]', 'bigint[]', 'widening'],
    ['integer[]', 'integer', 'narrowing'],
    ['text', 'integer', 'narrowing'],
    ['uuid', 'text', 'widening'],
  ])('%s → %s is %s', (from, to, verdict) => {
    expect(classifyTypeChange(from, to)).toBe(verdict);
  });
});

describe('rendering', () => {
  test('code spans survive backticks; HTML escaping covers all five characters', () => {
    expect(mdCode('a`b')).toBe('``a`b``');
    expect(mdCode('`x`')).toBe('`` `x` ``');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  test('Markdown groups by schema then kind', () => {
    const diff: SchemaDiff = {
      formatVersion: 1,
      changes: [
        { kind: 'table', name: 'a.t', schema: 'a', change: 'added', risk: 'safe', reason: 'new table' },
        {
          kind: 'column',
          name: 'b.t.c',
          schema: 'b',
          table: 'b.t',
          change: 'altered',
          risk: 'destructive',
          reason: 'narrowing',
          attributes: [{ attribute: 'type', before: 'bigint', after: 'integer' }],
        },
      ],
      counts: { total: 2, destructive: 1, locking: 0, safe: 1 },
      destructive: true,
    };
    expect(renderDiffMarkdown(diff)).toBe(
      [
        '# Schema diff',
        '',
        '2 changes: 1 destructive, 0 locking, 1 safe.',
        '',
        '## Schema `a`',
        '',
        '### table',
        '',
        '- **safe** added `a.t`: new table',
        '',
        '## Schema `b`',
        '',
        '### column',
        '',
        '- **destructive** altered `b.t.c`: narrowing',
        '  - type: `bigint` → `integer`',
        '',
      ].join('\n'),
    );
  });

  test('unified diff of two dumps; empty when equal', () => {
    const patch = unifiedSchemaDiff('CREATE TABLE a ();\n', 'CREATE TABLE a ();\nCREATE TABLE b ();\n');
    expect(patch).toContain('--- before.sql');
    expect(patch).toContain('+CREATE TABLE b ();');
    expect(unifiedSchemaDiff('x\n', 'x\n')).toBe('');
  });
});
