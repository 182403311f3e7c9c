/**
 * Snapshot and diff against the rig's PostgreSQL: for every object kind, create it, snapshot, change it,
 * snapshot, and check the exact changes and risk classes the diff reports.
 */
import type { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  diffSnapshots,
  dumpSchemaSql,
  serializeSnapshot,
  snapshotSchema,
  unifiedSchemaDiff,
  type DiffOptions,
  type SchemaDiff,
  type SchemaSnapshot,
  type SnapshotOptions,
} from '../../lambdas/schema';
import { ensureHistoryTables } from '../../lambdas/shared/history';
import { withClient } from '../../lambdas/shared/db';
import { freshDatabase, rigTarget, seedRows, type TestDatabase } from '../rig/helpers';
import { present } from '../helpers/present';

/** `change kind name risk [attributes]`, one string per change: what a reviewer would read. */
function summarize(diff: SchemaDiff): string[] {
  return diff.changes.map(
    (c) =>
      `${c.change} ${c.kind} ${c.name} ${c.risk}` +
      (c.attributes ? ` [${c.attributes.map((a) => a.attribute).join(',')}]` : ''),
  );
}

const NO_CHANGES: SchemaDiff = {
  formatVersion: 1,
  changes: [],
  counts: { total: 0, destructive: 0, locking: 0, safe: 0 },
  destructive: false,
};

describe('schema snapshot and diff (real PostgreSQL)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeAll(async () => {
    db = await freshDatabase('sd');
    client = await db.client();
  });
  afterAll(async () => db.drop());

  /** Runs `setup`, snapshots, runs `change`, snapshots, and diffs. Each case uses its own schema. */
  async function diffAround(
    setup: string,
    change: string,
    options: { snapshot?: SnapshotOptions; diff?: DiffOptions } = {},
  ): Promise<{ diff: SchemaDiff; before: SchemaSnapshot; after: SchemaSnapshot }> {
    if (setup) await client.query(setup);
    const before = await snapshotSchema(client, { includeStats: true, ...options.snapshot });
    await client.query(change);
    const after = await snapshotSchema(client, { includeStats: true, ...options.snapshot });
    // Every case also checks that each snapshot diffed with itself reports nothing.
    for (const same of [before, after]) expect(diffSnapshots(same, same, options.diff)).toEqual(NO_CHANGES);
    return { diff: diffSnapshots(before, after, options.diff), before, after };
  }

  test('no change: byte-identical snapshots and an empty diff', async () => {
    // Prepare
    await client.query(`CREATE SCHEMA nochange; CREATE TABLE nochange.t (id int PRIMARY KEY, v text);
      CREATE VIEW nochange.v AS SELECT id FROM nochange.t; CREATE TYPE nochange.e AS ENUM ('a', 'b')`);
    // Act
    const a = await snapshotSchema(client);
    const b = await snapshotSchema(client);
    // Assess
    expect(serializeSnapshot(a)).toBe(serializeSnapshot(b));
    expect(diffSnapshots(a, b)).toEqual(NO_CHANGES);
    expect(a.stats).toBeUndefined();
    expect(Object.keys(a.objects.table)).toContain('nochange.t');
  });

  test('schemas: added is safe, dropped is destructive; names with quotes, spaces, unicode, mixed case', async () => {
    const added = await diffAround('', `CREATE SCHEMA "Sales ""Ünïcode"" Q1"`);
    expect(summarize(added.diff)).toEqual([`added schema "Sales ""Ünïcode"" Q1" safe`]);
    const dropped = await diffAround('', `DROP SCHEMA "Sales ""Ünïcode"" Q1"`);
    expect(summarize(dropped.diff)).toEqual([`removed schema "Sales ""Ünïcode"" Q1" destructive`]);
    expect(dropped.diff.destructive).toBe(true);
  });

  test('tables and columns with awkward identifiers: added, then a dropped column is destructive', async () => {
    const { diff } = await diffAround(
      `CREATE SCHEMA "Mixed Case"`,
      `CREATE TABLE "Mixed Case"."Order ""Items""" ("Qty" int NOT NULL, "prix €" numeric(10,2) DEFAULT 0)`,
    );
    expect(summarize(diff)).toEqual([
      `added table "Mixed Case"."Order ""Items""" safe`,
      `added column "Mixed Case"."Order ""Items"""."Qty" safe`,
      `added column "Mixed Case"."Order ""Items"""."prix €" safe`,
    ]);
    const col = await diffAround('', `ALTER TABLE "Mixed Case"."Order ""Items""" DROP COLUMN "prix €"`);
    expect(summarize(col.diff)).toEqual([
      `removed column "Mixed Case"."Order ""Items"""."prix €" destructive`,
    ]);
    const table = await diffAround('', `DROP TABLE "Mixed Case"."Order ""Items"""`);
    expect(summarize(table.diff)).toEqual([
      `removed table "Mixed Case"."Order ""Items""" destructive`,
      `removed column "Mixed Case"."Order ""Items"""."Qty" destructive`,
    ]);
  });

  test('column attributes: type narrowing is destructive, widening on a large table is locking', async () => {
    await client.query(`CREATE SCHEMA cols; CREATE TABLE cols.t (id int PRIMARY KEY, name varchar(100), n integer,
      created timestamptz, label text)`);
    const narrow = await diffAround('', `ALTER TABLE cols.t ALTER COLUMN name TYPE varchar(50)`);
    expect(narrow.diff.changes).toEqual([
      expect.objectContaining({
        kind: 'column',
        name: 'cols.t.name',
        change: 'altered',
        risk: 'destructive',
        attributes: [{ attribute: 'type', before: 'character varying(100)', after: 'character varying(50)' }],
      }),
    ]);
    // Every table counts as large with a 1-byte threshold: the same widening is then "locking".
    const widen = await diffAround('', `ALTER TABLE cols.t ALTER COLUMN n TYPE bigint`, {
      diff: { largeTableBytes: 1 },
    });
    expect(summarize(widen.diff)).toEqual(['altered column cols.t.n locking [type]']);
    const small = await diffAround('', `ALTER TABLE cols.t ALTER COLUMN n TYPE numeric(30,0)`);
    expect(summarize(small.diff)).toEqual(['altered column cols.t.n safe [type]']);
    const tz = await diffAround('', `ALTER TABLE cols.t ALTER COLUMN created TYPE timestamp`);
    expect(summarize(tz.diff)).toEqual(['altered column cols.t.created destructive [type]']);
    const attrs = await diffAround(
      '',
      `ALTER TABLE cols.t ALTER COLUMN label SET NOT NULL, ALTER COLUMN label SET DEFAULT 'x',
       ALTER COLUMN label TYPE text COLLATE "C"`,
    );
    expect(attrs.diff.changes[0]?.attributes).toEqual([
      { attribute: 'collation', before: null, after: 'pg_catalog."C"' },
      { attribute: 'default', before: null, after: `'x'::text` },
      { attribute: 'notNull', before: false, after: true },
    ]);
    expect(attrs.diff.changes[0]?.risk).toBe('safe');
    const identity = await diffAround(
      '',
      `ALTER TABLE cols.t ADD COLUMN seq int GENERATED ALWAYS AS IDENTITY,
       ADD COLUMN twice int GENERATED ALWAYS AS (n * 2) STORED`,
    );
    expect(summarize(identity.diff)).toEqual([
      'added column cols.t.seq safe',
      'added column cols.t.twice safe',
      'added sequence cols.t_seq_seq safe',
    ]);
    expect(identity.after.objects.column['cols.t.seq']).toMatchObject({ identity: 'always', notNull: true });
    expect(identity.after.objects.column['cols.t.twice']).toMatchObject({ generated: '(n * (2)::numeric)' });
    expect(identity.after.objects.sequence['cols.t_seq_seq']).toMatchObject({
      ownedBy: 'cols.t.seq',
      identity: true,
    });
    const comment = await diffAround('', `COMMENT ON COLUMN cols.t.n IS 'count'`, {
      diff: { largeTableBytes: 1 },
    });
    expect(summarize(comment.diff)).toEqual(['altered column cols.t.n safe [comment]']);
  });

  test('unlogged, partitioned tables and partitions', async () => {
    await client.query(
      `CREATE SCHEMA parts; CREATE TABLE parts.log (id int); INSERT INTO parts.log VALUES (1)`,
    );
    const unlogged = await diffAround('', `ALTER TABLE parts.log SET UNLOGGED`, {
      diff: { largeTableBytes: 1 },
    });
    expect(unlogged.diff.changes).toEqual([
      expect.objectContaining({
        name: 'parts.log',
        risk: 'locking',
        attributes: [{ attribute: 'persistence', before: 'permanent', after: 'unlogged' }],
      }),
    ]);
    const partitioned = await diffAround(
      `CREATE TABLE parts.m (id int, at date) PARTITION BY RANGE (at)`,
      `CREATE TABLE parts.m_2024 PARTITION OF parts.m FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
    );
    expect(summarize(partitioned.diff)).toEqual([
      'added table parts.m_2024 safe',
      'added column parts.m_2024.at safe',
      'added column parts.m_2024.id safe',
    ]);
    expect(partitioned.after.objects.table['parts.m']).toMatchObject({
      type: 'partitioned table',
      partitionKey: 'RANGE (at)',
    });
    expect(partitioned.after.objects.table['parts.m_2024']).toMatchObject({
      parents: ['parts.m'],
      partitionBound: `FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')`,
    });
  });

  test('constraints: PK, FK with actions, unique, check NOT VALID then validated, exclusion, deferrable', async () => {
    await client.query(`CREATE SCHEMA cons; CREATE TABLE cons.p (id int PRIMARY KEY);
      CREATE TABLE cons.c (id int, p_id int, n int, during int4range)`);
    const added = await diffAround(
      '',
      `ALTER TABLE cons.c ADD CONSTRAINT c_pk PRIMARY KEY (id),
         ADD CONSTRAINT c_fk FOREIGN KEY (p_id) REFERENCES cons.p (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
         ADD CONSTRAINT c_n_key UNIQUE (n),
         ADD CONSTRAINT c_no_overlap EXCLUDE USING gist (during WITH &&);
       ALTER TABLE cons.c ADD CONSTRAINT c_n_check CHECK (n > 0) NOT VALID`,
      { diff: { largeTableBytes: 1 } },
    );
    expect(summarize(added.diff)).toEqual([
      'altered column cons.c.id locking [notNull]',
      'added constraint cons.c.c_fk locking',
      'added constraint cons.c.c_n_check locking',
      'added constraint cons.c.c_n_key locking',
      'added constraint cons.c.c_no_overlap locking',
      'added constraint cons.c.c_pk locking',
      'added index cons.c_n_key locking',
      'added index cons.c_no_overlap locking',
      'added index cons.c_pk locking',
    ]);
    expect(added.after.objects.constraint['cons.c.c_fk']).toMatchObject({
      type: 'foreign key',
      references: 'cons.p',
      onDelete: 'cascade',
      onUpdate: 'no action',
      deferrable: true,
      initiallyDeferred: true,
    });
    expect(added.after.objects.constraint['cons.c.c_n_check']).toMatchObject({
      type: 'check',
      validated: false,
    });
    expect(added.after.objects.index['cons.c_no_overlap']).toMatchObject({
      method: 'gist',
      constraint: 'c_no_overlap',
    });
    const validated = await diffAround('', `ALTER TABLE cons.c VALIDATE CONSTRAINT c_n_check`);
    expect(validated.diff.changes).toEqual([
      expect.objectContaining({
        name: 'cons.c.c_n_check',
        change: 'altered',
        risk: 'safe',
        attributes: [
          { attribute: 'definition', before: 'CHECK (n > 0) NOT VALID', after: 'CHECK (n > 0)' },
          { attribute: 'validated', before: false, after: true },
        ],
      }),
    ]);
    const dropped = await diffAround('', `ALTER TABLE cons.c DROP CONSTRAINT c_fk`);
    expect(summarize(dropped.diff)).toEqual(['removed constraint cons.c.c_fk safe']);
  });

  test('indexes: partial and method recorded; invalid index seen; drop on a large table is locking', async () => {
    await client.query(`CREATE SCHEMA idx; CREATE TABLE idx.t (id int, tags text[], deleted boolean)`);
    const added = await diffAround(
      '',
      `CREATE INDEX t_live ON idx.t (id) WHERE NOT deleted; CREATE INDEX t_tags ON idx.t USING gin (tags)`,
    );
    expect(summarize(added.diff)).toEqual(['added index idx.t_live safe', 'added index idx.t_tags safe']);
    expect(added.after.objects.index['idx.t_live']).toMatchObject({
      partial: true,
      method: 'btree',
      valid: true,
      unique: false,
      definition: 'CREATE INDEX t_live ON idx.t USING btree (id) WHERE (NOT deleted)',
    });
    const invalid = await diffAround(
      '',
      `UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'idx.t_tags'::regclass`,
    );
    expect(summarize(invalid.diff)).toEqual(['altered index idx.t_tags safe [valid]']);
    const dropped = await diffAround('', `DROP INDEX idx.t_live`, { diff: { largeTableBytes: 1 } });
    expect(summarize(dropped.diff)).toEqual(['removed index idx.t_live locking']);
  });

  test('views and materialized views: definition changes are safe, dropping a materialized view is destructive', async () => {
    await client.query(`CREATE SCHEMA vw; CREATE TABLE vw.t (id int, v text)`);
    const view = await diffAround(
      `CREATE VIEW vw.v AS SELECT id FROM vw.t; CREATE MATERIALIZED VIEW vw.mv AS SELECT count(*) AS n FROM vw.t`,
      `CREATE OR REPLACE VIEW vw.v AS SELECT id, v FROM vw.t`,
    );
    expect(view.diff.changes).toEqual([
      expect.objectContaining({
        kind: 'view',
        name: 'vw.v',
        risk: 'safe',
        attributes: [
          {
            attribute: 'definition',
            before: ' SELECT t.id\n   FROM vw.t;',
            after: ' SELECT t.id,\n    t.v\n   FROM vw.t;',
          },
        ],
      }),
    ]);
    const mv = await diffAround('', `DROP MATERIALIZED VIEW vw.mv`);
    expect(summarize(mv.diff)).toEqual(['removed materialized_view vw.mv destructive']);
    const v = await diffAround('', `DROP VIEW vw.v`);
    expect(summarize(v.diff)).toEqual(['removed view vw.v safe']);
  });

  test('functions and procedures: body change is safe (hash changes), a dropped function is destructive', async () => {
    await client.query(`CREATE SCHEMA fn;
      CREATE FUNCTION fn.add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
      CREATE PROCEDURE fn.noop() LANGUAGE plpgsql AS $$BEGIN NULL; END$$;
      CREATE FUNCTION fn.std(x int) RETURNS int LANGUAGE sql RETURN x * 2`);
    const before = await snapshotSchema(client);
    expect(before.objects.function['fn.add(a integer, b integer)']).toMatchObject({
      kind: 'function',
      arguments: 'a integer, b integer DEFAULT 1',
      returns: 'integer',
      language: 'sql',
      volatility: 'immutable',
    });
    expect(before.objects.function['fn.noop()']).toMatchObject({ kind: 'procedure', language: 'plpgsql' });
    const body = await diffAround(
      '',
      `CREATE OR REPLACE FUNCTION fn.add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b + 0';
       CREATE OR REPLACE FUNCTION fn.std(x int) RETURNS int LANGUAGE sql RETURN x * 3`,
    );
    expect(summarize(body.diff)).toEqual([
      'altered function fn.add(a integer, b integer) safe [bodySha256]',
      'altered function fn.std(x integer) safe [bodySha256]',
    ]);
    const dropped = await diffAround('', `DROP FUNCTION fn.add(int, int)`);
    expect(summarize(dropped.diff)).toEqual(['removed function fn.add(a integer, b integer) destructive']);
  });

  test('triggers: added, then disabled', async () => {
    await client.query(`CREATE SCHEMA trg; CREATE TABLE trg.t (id int, at timestamptz);
      CREATE FUNCTION trg.touch() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.at := now(); RETURN NEW; END$$`);
    const added = await diffAround(
      '',
      `CREATE TRIGGER "Touch Me" BEFORE UPDATE ON trg.t FOR EACH ROW EXECUTE FUNCTION trg.touch()`,
    );
    expect(summarize(added.diff)).toEqual([`added trigger trg.t."Touch Me" safe`]);
    const disabled = await diffAround('', `ALTER TABLE trg.t DISABLE TRIGGER "Touch Me"`);
    expect(disabled.diff.changes[0]?.attributes).toEqual([
      { attribute: 'enabled', before: 'origin', after: 'disabled' },
    ]);
  });

  test('sequences: ownership and parameters', async () => {
    await client.query(`CREATE SCHEMA sq; CREATE TABLE sq.t (id bigserial)`);
    const before = await snapshotSchema(client);
    expect(before.objects.sequence['sq.t_id_seq']).toMatchObject({
      ownedBy: 'sq.t.id',
      identity: false,
      type: 'bigint',
      increment: '1',
    });
    const altered = await diffAround('', `ALTER SEQUENCE sq.t_id_seq INCREMENT BY 10 CACHE 5`);
    expect(altered.diff.changes[0]).toMatchObject({
      name: 'sq.t_id_seq',
      risk: 'safe',
      attributes: [
        { attribute: 'cache', before: '1', after: '5' },
        { attribute: 'increment', before: '1', after: '10' },
      ],
    });
  });

  test('enums: a label added is safe, a label removed is destructive; labels keep their order', async () => {
    await client.query(`CREATE SCHEMA en; CREATE TYPE en.mood AS ENUM ('sad', 'ok')`);
    const added = await diffAround('', `ALTER TYPE en.mood ADD VALUE 'happy' BEFORE 'ok'`);
    expect(added.diff.changes).toEqual([
      expect.objectContaining({
        kind: 'enum',
        risk: 'safe',
        attributes: [{ attribute: 'labels', before: ['sad', 'ok'], after: ['sad', 'happy', 'ok'] }],
      }),
    ]);
    const removed = await diffAround('', `DROP TYPE en.mood; CREATE TYPE en.mood AS ENUM ('sad', 'happy')`);
    expect(summarize(removed.diff)).toEqual(['altered enum en.mood destructive [labels]']);
  });

  test('domains and composite types', async () => {
    await client.query(`CREATE SCHEMA ty; CREATE DOMAIN ty.pos AS numeric(10,2) NOT NULL DEFAULT 1;
      CREATE TYPE ty.pair AS (a int, b text)`);
    const check = await diffAround('', `ALTER DOMAIN ty.pos ADD CONSTRAINT pos_check CHECK (VALUE > 0)`);
    expect(check.diff.changes[0]).toMatchObject({
      kind: 'domain',
      risk: 'safe',
      attributes: [{ attribute: 'checks', before: null, after: ['pos_check CHECK (VALUE > 0::numeric)'] }],
    });
    expect(check.after.objects.domain['ty.pos']).toMatchObject({
      baseType: 'numeric(10,2)',
      notNull: true,
      default: '1',
    });
    const addAttr = await diffAround('', `ALTER TYPE ty.pair ADD ATTRIBUTE c date`);
    expect(summarize(addAttr.diff)).toEqual(['altered composite_type ty.pair safe [attributes]']);
    const dropAttr = await diffAround('', `ALTER TYPE ty.pair DROP ATTRIBUTE b`);
    expect(dropAttr.diff.changes[0]).toMatchObject({
      risk: 'destructive',
      attributes: [
        {
          attribute: 'attributes',
          before: ['a integer', 'b text', 'c date'],
          after: ['a integer', 'c date'],
        },
      ],
    });
  });

  test('collations: creating and dropping one shows in the diff, with provider and locale', async () => {
    await client.query(`CREATE SCHEMA coll`);
    const added = await diffAround('', `CREATE COLLATION coll."Posix Copy" (provider = libc, locale = 'C')`);
    expect(summarize(added.diff)).toEqual([`added collation coll."Posix Copy" safe`]);
    expect(added.after.objects.collation['coll."Posix Copy"']).toMatchObject({
      schema: 'coll',
      provider: 'libc',
      collate: 'C',
      ctype: 'C',
      deterministic: true,
    });
    const used = await diffAround(
      '',
      `CREATE TABLE coll.t (name text COLLATE coll."Posix Copy"); COMMENT ON COLLATION coll."Posix Copy" IS 'byte order'`,
    );
    expect(summarize(used.diff)).toEqual([
      'altered collation coll."Posix Copy" safe [comment]',
      'added table coll.t safe',
      'added column coll.t.name safe',
    ]);
    const dropped = await diffAround('', `DROP TABLE coll.t; DROP COLLATION coll."Posix Copy"`);
    expect(summarize(dropped.diff)).toEqual([
      'removed collation coll."Posix Copy" safe',
      'removed table coll.t destructive',
      'removed column coll.t.name destructive',
    ]);
  });

  test('inheritance: whether a child declares an inherited column itself is recorded', async () => {
    const merged = await diffAround(
      `CREATE SCHEMA inh; CREATE TABLE inh.parent (a int, b text); CREATE TABLE inh.child (c int) INHERITS (inh.parent)`,
      // The same child, now declaring `a` itself (PostgreSQL merges it with the inherited column).
      `DROP TABLE inh.child; CREATE TABLE inh.child (a int, c int) INHERITS (inh.parent)`,
    );
    // A locally declared column survives when the parent drops it; an inherited-only one goes with it.
    expect(merged.diff.changes).toEqual([
      expect.objectContaining({
        kind: 'column',
        name: 'inh.child.a',
        change: 'altered',
        attributes: [{ attribute: 'declaredLocally', before: false, after: true }],
      }),
    ]);
    expect(merged.after.objects.column['inh.child.b']).toMatchObject({ declaredLocally: false });
    expect(
      present(merged.after.objects.column['inh.child.c'], 'column inh.child.c').declaredLocally,
    ).toBeUndefined();
    expect(
      present(merged.after.objects.column['inh.parent.a'], 'column inh.parent.a').declaredLocally,
    ).toBeUndefined();
  });

  test('extensions: recorded with version; their member objects are not', async () => {
    const { diff, after } = await diffAround('', `CREATE SCHEMA ext; CREATE EXTENSION citext SCHEMA ext`);
    expect(summarize(diff)).toEqual(['added schema ext safe', 'added extension citext safe']);
    expect(after.objects.extension.citext).toEqual({ schema: 'ext', version: expect.stringMatching(/^\d/) });
    expect(Object.keys(after.objects.function).filter((k) => k.startsWith('ext.'))).toEqual([]);
    const dropped = await diffAround('', `DROP EXTENSION citext`);
    expect(summarize(dropped.diff)).toEqual(['removed extension citext destructive']);
  });

  test('row-level security and policies', async () => {
    await client.query(`CREATE SCHEMA rls; CREATE TABLE rls.t (id int, owner_name text)`);
    const { diff, after } = await diffAround(
      '',
      `ALTER TABLE rls.t ENABLE ROW LEVEL SECURITY;
       CREATE POLICY own_rows ON rls.t FOR SELECT USING (owner_name = current_user)`,
    );
    expect(summarize(diff)).toEqual([
      'altered table rls.t safe [rowSecurity]',
      'added policy rls.t.own_rows safe',
    ]);
    expect(after.objects.policy['rls.t.own_rows']).toMatchObject({
      command: 'SELECT',
      permissive: true,
      roles: ['public'],
      using: '(owner_name = CURRENT_USER)',
    });
  });

  test('owners and grants are recorded only when asked for', async () => {
    const role = `pgshift_reader_${randomBytes(3).toString('hex')}`;
    await withClient(rigTarget(), (c) => c.query(`CREATE ROLE ${role}`));
    try {
      await client.query(`CREATE SCHEMA own; CREATE TABLE own.t (id int)`);
      const without = await diffAround('', `GRANT SELECT ON own.t TO ${role}`);
      expect(without.diff.changes).toEqual([]);
      const withOwnership = await diffAround('', `GRANT INSERT ON own.t TO ${role}`, {
        snapshot: { includeOwnership: true },
      });
      expect(withOwnership.diff.changes).toEqual([
        expect.objectContaining({
          name: 'own.t',
          attributes: [expect.objectContaining({ attribute: 'acl' })],
        }),
      ]);
      expect(withOwnership.after.objects.table['own.t']?.acl).toEqual(
        expect.arrayContaining([`${role}=ar/${rigTarget().user}`]),
      );
      await client.query(`DROP TABLE own.t`);
    } finally {
      await withClient(rigTarget(), (c) => c.query(`DROP ROLE ${role}`));
    }
  });

  test('pgshift schema and system schemas are excluded; stats carry sizes and row estimates', async () => {
    await ensureHistoryTables(client);
    await seedRows(db.target, 300, { table: 'sized' });
    await client.query('ANALYZE sized');
    const snap = await snapshotSchema(client, { includeStats: true });
    const schemas = Object.keys(snap.objects.schema);
    expect(schemas).not.toContain('pgshift');
    expect(schemas).not.toContain('pg_catalog');
    expect(Object.keys(snap.objects.table).some((t) => t.startsWith('pgshift.'))).toBe(false);
    expect(snap.stats?.tables['public.sized']).toMatchObject({ estimatedRows: 300 });
    const sized = present(snap.stats?.tables['public.sized'], 'stats of public.sized');
    expect(sized.totalBytes).toBeGreaterThan(sized.tableBytes);
  });

  /**
   * One change per row, each in its own schema so rows stay independent: the verdict a reviewer reads for each
   * kind of object added, dropped or altered. diffAround also diffs each snapshot with itself (no change).
   */
  test.each<{ case: string; setup: string; change: string; diff?: DiffOptions; changes: string[] }>([
    {
      case: 'a schema added is safe',
      setup: '',
      change: 'CREATE SCHEMA row_s1',
      changes: ['added schema row_s1 safe'],
    },
    {
      case: 'a schema dropped is destructive',
      setup: 'CREATE SCHEMA row_s2',
      change: 'DROP SCHEMA row_s2',
      changes: ['removed schema row_s2 destructive'],
    },
    {
      case: 'a table added is safe, and so is each of its columns',
      setup: 'CREATE SCHEMA row_t1',
      change: 'CREATE TABLE row_t1.t (a int, b text)',
      changes: ['added table row_t1.t safe', 'added column row_t1.t.a safe', 'added column row_t1.t.b safe'],
    },
    {
      case: 'a column dropped is destructive',
      setup: 'CREATE SCHEMA row_c1; CREATE TABLE row_c1.t (a int, b int)',
      change: 'ALTER TABLE row_c1.t DROP COLUMN b',
      changes: ['removed column row_c1.t.b destructive'],
    },
    {
      case: 'a narrowed column type is destructive',
      setup: 'CREATE SCHEMA row_c2; CREATE TABLE row_c2.t (name varchar(100))',
      change: 'ALTER TABLE row_c2.t ALTER COLUMN name TYPE varchar(50)',
      changes: ['altered column row_c2.t.name destructive [type]'],
    },
    {
      case: 'a widened column type on a large table is locking',
      setup: 'CREATE SCHEMA row_c3; CREATE TABLE row_c3.t (n integer); INSERT INTO row_c3.t VALUES (1)',
      change: 'ALTER TABLE row_c3.t ALTER COLUMN n TYPE bigint',
      diff: { largeTableBytes: 1 },
      changes: ['altered column row_c3.t.n locking [type]'],
    },
    {
      case: 'an index dropped from a large table is locking',
      setup:
        'CREATE SCHEMA row_i1; CREATE TABLE row_i1.t (a int); INSERT INTO row_i1.t VALUES (1); CREATE INDEX t_a ON row_i1.t (a)',
      change: 'DROP INDEX row_i1.t_a',
      diff: { largeTableBytes: 1 },
      changes: ['removed index row_i1.t_a locking'],
    },
    {
      case: 'a view dropped is safe (it holds no data)',
      setup: 'CREATE SCHEMA row_v1; CREATE VIEW row_v1.v AS SELECT 1 AS one',
      change: 'DROP VIEW row_v1.v',
      changes: ['removed view row_v1.v safe'],
    },
    {
      case: 'a materialized view dropped is destructive',
      setup: 'CREATE SCHEMA row_v2; CREATE MATERIALIZED VIEW row_v2.mv AS SELECT 1 AS one',
      change: 'DROP MATERIALIZED VIEW row_v2.mv',
      changes: ['removed materialized_view row_v2.mv destructive'],
    },
    {
      case: 'an enum label removed is destructive',
      setup: "CREATE SCHEMA row_e1; CREATE TYPE row_e1.mood AS ENUM ('sad', 'ok')",
      change: "DROP TYPE row_e1.mood; CREATE TYPE row_e1.mood AS ENUM ('sad')",
      changes: ['altered enum row_e1.mood destructive [labels]'],
    },
    {
      case: 'a function dropped is destructive',
      setup: 'CREATE SCHEMA row_f1; CREATE FUNCTION row_f1.one() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$',
      change: 'DROP FUNCTION row_f1.one()',
      changes: ['removed function row_f1.one() destructive'],
    },
  ])('$case', async ({ setup, change, diff: diffOptions, changes }) => {
    const { diff } = await diffAround(setup, change, { diff: diffOptions });
    expect(summarize(diff)).toEqual(changes);
  });

  test('pg_dump --schema-only text and its unified diff', async () => {
    const before = await dumpSchemaSql(db.target);
    await client.query(`CREATE TABLE public."Späti Öffnung" (id int)`);
    const after = await dumpSchemaSql(db.target);
    expect(before).toContain('PostgreSQL database dump');
    expect(before).not.toContain('pgshift.history');
    expect(after).not.toContain('OWNER TO');
    const patch = unifiedSchemaDiff(before, after);
    expect(patch).toContain('+CREATE TABLE public."Späti Öffnung" (');
    expect(unifiedSchemaDiff(after, after)).toBe('');
  });

  test('a refused login is a DatabaseConnectionError (so a rotated secret is re-read) without the password', async () => {
    // pg_dump's session settings are read over a connection first (libpqSessionEnv): a wrong password fails there.
    const target = { ...db.target, password: 'wrong-secret-pw' };
    const err = (await dumpSchemaSql(target).catch((e: unknown) => e)) as Error & {
      details: { sqlState: string };
    };
    expect(err.name).toBe('DatabaseConnectionError');
    expect(err.details.sqlState).toBe('28P01');
    expect(err.message).not.toContain('wrong-secret-pw');
  });

  test('pg_dump failure is a DumpFailedError with the password redacted from its stderr', async () => {
    // A pg_dump that fails after the login, echoing its environment's password as a careless tool might.
    const bin = mkdtempSync(join(tmpdir(), 'pgshift-fake-pgdump-'));
    writeFileSync(
      join(bin, 'pg_dump'),
      '#!/bin/sh\necho "pg_dump: error: failed with $PGPASSWORD" >&2\nexit 1\n',
    );
    chmodSync(join(bin, 'pg_dump'), 0o755);
    try {
      const err = (await dumpSchemaSql(db.target, { toolEnv: { PGSHIFT_PG_BIN: bin } }).catch(
        (e: unknown) => e,
      )) as Error;
      expect(err.name).toBe('DumpFailedError');
      expect(err.message).toContain('pg_dump: error: failed with ********');
      expect(err.message).not.toContain(db.target.password);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });
});
