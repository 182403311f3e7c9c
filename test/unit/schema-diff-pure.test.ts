/** The pure parts of the schema diff: type-change verdicts, Markdown escaping, the unified diff. */
import {
  classifyTypeChange,
  diffSnapshots,
  mdCode,
  OBJECT_KINDS,
  renderDiffMarkdown,
  unifiedSchemaDiff,
  type ObjectKind,
  type SchemaDiff,
  type SchemaObject,
  type SchemaSnapshot,
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
        { kind: 'table', name: 'a.t', schema: 'a', change: 'added', risk: 'safe', hazards: [] },
        {
          kind: 'column',
          name: 'b.t.c',
          schema: 'b',
          table: 'b.t',
          change: 'altered',
          risk: 'destructive',
          hazards: [{ kind: 'deletes-data', detail: 'narrowing' }],
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
        '- **safe** added `a.t`: no hazard',
        '',
        '## Schema `b`',
        '',
        '### column',
        '',
        '- **destructive** altered `b.t.c`: deletes data (narrowing)',
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

/** A snapshot holding `objects` (every other kind empty), with table sizes when given. */
function snapshot(
  objects: Partial<Record<ObjectKind, Record<string, SchemaObject>>>,
  sizes?: Record<string, number>,
): SchemaSnapshot {
  const all = Object.fromEntries(OBJECT_KINDS.map((k) => [k, objects[k] ?? {}])) as SchemaSnapshot['objects'];
  return {
    formatVersion: 1,
    options: { includeOwnership: false },
    objects: all,
    ...(sizes
      ? {
          stats: {
            tables: Object.fromEntries(
              Object.entries(sizes).map(([t, bytes]) => [
                t,
                { totalBytes: bytes, tableBytes: bytes, indexBytes: 0, estimatedRows: 1 },
              ]),
            ),
          },
        }
      : {}),
  };
}

const MiB = 1024 * 1024;
const column = (type: string, extra: Record<string, unknown> = {}): SchemaObject => ({
  schema: 'public',
  table: 'public.t',
  type,
  ...extra,
});

describe('diffSnapshots, one case per row (each snapshot diffed with itself reports nothing)', () => {
  test.each<{
    case: string;
    before: SchemaSnapshot;
    after: SchemaSnapshot;
    changes: { change: string; name: string; risk: string; hazards: unknown[] }[];
  }>([
    {
      case: 'a narrowed column type is destructive and says the conversion can lose data',
      before: snapshot({ column: { 'public.t.c': column('bigint') } }),
      after: snapshot({ column: { 'public.t.c': column('integer') } }),
      changes: [
        {
          change: 'altered',
          name: 'public.t.c',
          risk: 'destructive',
          hazards: [
            {
              kind: 'deletes-data',
              detail: 'type bigint → integer can lose data (narrowing or unproven conversion)',
            },
          ],
        },
      ],
    },
    {
      case: 'a widened column type on a table of unknown size is safe and says the size is unknown',
      before: snapshot({ column: { 'public.t.c': column('integer') } }),
      after: snapshot({ column: { 'public.t.c': column('bigint') } }),
      changes: [
        {
          change: 'altered',
          name: 'public.t.c',
          risk: 'safe',
          hazards: [],
        },
      ],
    },
    {
      case: 'a widened column type on a table of 100 MiB or more is locking',
      before: snapshot({ column: { 'public.t.c': column('integer') } }, { 'public.t': 200 * MiB }),
      after: snapshot({ column: { 'public.t.c': column('bigint') } }, { 'public.t': 200 * MiB }),
      changes: [
        {
          change: 'altered',
          name: 'public.t.c',
          risk: 'locking',
          hazards: [
            {
              kind: 'access-exclusive-lock',
              detail: expect.stringMatching(/^public\.t is large \(200(\.0)? MiB\)$/),
            },
            { kind: 'rewrites-table', detail: 'type integer → bigint' },
          ],
        },
      ],
    },
    {
      case: 'a varchar widened on a large table locks it but does not rewrite it',
      before: snapshot(
        { column: { 'public.t.c': column('character varying(10)') } },
        { 'public.t': 200 * MiB },
      ),
      after: snapshot({ column: { 'public.t.c': column('text') } }, { 'public.t': 200 * MiB }),
      changes: [
        {
          change: 'altered',
          name: 'public.t.c',
          risk: 'locking',
          hazards: [{ kind: 'access-exclusive-lock', detail: expect.stringMatching(/^public\.t is large/) }],
        },
      ],
    },
    {
      case: 'an index added on a large table builds an index; on a small one it has no hazard',
      before: snapshot({}, { 'public.t': 200 * MiB, 'public.s': 1 * MiB }),
      after: snapshot(
        {
          index: {
            'public.s_i': {
              schema: 'public',
              table: 'public.s',
              definition: 'CREATE INDEX s_i ON public.s (c)',
            },
            'public.t_i': {
              schema: 'public',
              table: 'public.t',
              definition: 'CREATE INDEX t_i ON public.t (c)',
            },
          },
        },
        { 'public.t': 200 * MiB, 'public.s': 1 * MiB },
      ),
      changes: [
        { change: 'added', name: 'public.s_i', risk: 'safe', hazards: [] },
        {
          change: 'added',
          name: 'public.t_i',
          risk: 'locking',
          hazards: [{ kind: 'builds-index', detail: expect.stringMatching(/^public\.t is large/) }],
        },
      ],
    },
    {
      case: 'a comment on a column of a large table is metadata only: safe',
      before: snapshot({ column: { 'public.t.c': column('text') } }, { 'public.t': 200 * MiB }),
      after: snapshot(
        { column: { 'public.t.c': column('text', { comment: 'why' }) } },
        { 'public.t': 200 * MiB },
      ),
      changes: [{ change: 'altered', name: 'public.t.c', risk: 'safe', hazards: [] }],
    },
    {
      case: 'an enum label removed is destructive and names the label',
      before: snapshot({ enum: { 'public.mood': { schema: 'public', labels: ['sad', 'ok'] } } }),
      after: snapshot({ enum: { 'public.mood': { schema: 'public', labels: ['sad'] } } }),
      changes: [
        {
          change: 'altered',
          name: 'public.mood',
          risk: 'destructive',
          hazards: [{ kind: 'deletes-data', detail: 'enum labels removed: ok (rows using them break)' }],
        },
      ],
    },
    {
      case: 'a composite type attribute removed is destructive and names it',
      before: snapshot({
        composite_type: { 'public.pair': { schema: 'public', attributes: ['a integer', 'b text'] } },
      }),
      after: snapshot({ composite_type: { 'public.pair': { schema: 'public', attributes: ['a integer'] } } }),
      changes: [
        {
          change: 'altered',
          name: 'public.pair',
          risk: 'destructive',
          hazards: [{ kind: 'deletes-data', detail: 'attributes removed: b text' }],
        },
      ],
    },
    {
      case: 'a table dropped is destructive: it takes its data',
      before: snapshot({ table: { 'public.t': { schema: 'public' } } }),
      after: snapshot({}),
      changes: [
        {
          change: 'removed',
          name: 'public.t',
          risk: 'destructive',
          hazards: [{ kind: 'deletes-data', detail: 'dropping a table loses it and its data' }],
        },
      ],
    },
    {
      case: 'a view dropped is safe: it held no data',
      before: snapshot({ view: { 'public.v': { schema: 'public', definition: 'SELECT 1' } } }),
      after: snapshot({}),
      changes: [{ change: 'removed', name: 'public.v', risk: 'safe', hazards: [] }],
    },
    {
      case: 'a new schema is safe',
      before: snapshot({}),
      after: snapshot({ schema: { app: { schema: 'app' } } }),
      changes: [{ change: 'added', name: 'app', risk: 'safe', hazards: [] }],
    },
  ])('$case', ({ before, after, changes }) => {
    for (const same of [before, after]) {
      expect(diffSnapshots(same, same)).toEqual({
        formatVersion: 1,
        changes: [],
        counts: { total: 0, destructive: 0, locking: 0, safe: 0 },
        destructive: false,
      });
    }
    const diff = diffSnapshots(before, after);
    expect(diff.changes.map(({ change, name, risk, hazards }) => ({ change, name, risk, hazards }))).toEqual(
      changes,
    );
    expect(diff.destructive).toBe(changes.some((c) => c.risk === 'destructive'));
  });
});
