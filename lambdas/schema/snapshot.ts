import type { ClientBase } from 'pg';
import { LockTimeoutError } from '../shared/errors';
import { HISTORY_SCHEMA } from '../shared/history';
import { canonicalize, canonicalJson } from './canonical';
import { lockFreeTableSizesSql, setLocalLockTimeout } from './sizes';

/** Every kind of object a snapshot records; the diff and its Markdown group by these. */
export const OBJECT_KINDS = [
  'schema',
  'extension',
  'collation',
  'table',
  'column',
  'constraint',
  'index',
  'view',
  'materialized_view',
  'function',
  'trigger',
  'sequence',
  'enum',
  'domain',
  'composite_type',
  'policy',
] as const;
export type ObjectKind = (typeof OBJECT_KINDS)[number];

/**
 * One catalog object: where it lives (`schema`, and `table` for columns, constraints, indexes, triggers and
 * policies) plus its attributes. Attributes are plain JSON so the diff can compare them generically.
 */
export interface SchemaObject {
  schema: string;
  /** Qualified name of the table (or materialized view) a table-scoped object belongs to. */
  table?: string;
  [attribute: string]: unknown;
}

/** Size and row estimate of one table, for the diff's "locking" class and the report; never compared. */
export interface TableStats {
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  estimatedRows: number;
}

/**
 * A deterministic description of every user schema. Objects are keyed by their qualified name as PostgreSQL
 * quotes it (`public."Order Items"`, functions with their identity arguments: `public.f(integer)`).
 */
export interface SchemaSnapshot {
  formatVersion: 1;
  options: { includeOwnership: boolean };
  objects: Record<ObjectKind, Record<string, SchemaObject>>;
  /** Present when asked for (`includeStats`); differs between two snapshots of the same schema. */
  stats?: { tables: Record<string, TableStats> };
}

export interface SnapshotOptions {
  /** Record owners and grants (ACLs). They are environment-specific, so off by default. @default false */
  includeOwnership?: boolean;
  /** Add per-table sizes and row estimates in `stats` (not part of the comparison). @default false */
  includeStats?: boolean;
  /** More schemas to leave out, beyond the system schemas and pgshift's own. */
  excludeSchemas?: string[];
}

/** Schemas never snapshotted: the system's and pgshift's bookkeeping (`pgshift`). */
export const EXCLUDED_SCHEMAS = ['pg_catalog', 'information_schema', HISTORY_SCHEMA];

type Row = Record<string, unknown>;

/**
 * The namespace filter every query shares, as SQL over a `pg_namespace` alias; `$1` is the text[] of
 * excluded schema names.
 */
function userNamespace(alias: string): string {
  return `(${alias}.nspname <> ALL ($1::text[]) AND ${alias}.nspname NOT LIKE 'pg\\_toast%' AND ${alias}.nspname NOT LIKE 'pg\\_temp\\_%')`;
}

/** Objects created by an extension belong to it (the extension's version covers them). */
function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '${catalog}'::regclass AND dep.objid = ${oid} AND dep.deptype = 'e')`;
}

const REL_QNAME = `quote_ident(n.nspname) || '.' || quote_ident(c.relname)`;

const CONSTRAINT_TYPES: Record<string, string> = {
  p: 'primary key',
  f: 'foreign key',
  u: 'unique',
  c: 'check',
  x: 'exclusion',
  t: 'constraint trigger',
};
const FK_ACTIONS: Record<string, string> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};
const RELKINDS: Record<string, string> = { r: 'table', p: 'partitioned table', f: 'foreign table' };
const PERSISTENCE: Record<string, string> = { p: 'permanent', u: 'unlogged', t: 'temporary' };
const PROKINDS: Record<string, string> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window' };
const VOLATILITY: Record<string, string> = { i: 'immutable', s: 'stable', v: 'volatile' };
const PARALLEL: Record<string, string> = { s: 'safe', r: 'restricted', u: 'unsafe' };
const POLICY_COMMANDS: Record<string, string> = {
  r: 'SELECT',
  a: 'INSERT',
  w: 'UPDATE',
  d: 'DELETE',
  '*': 'ALL',
};
const COLLATION_PROVIDERS: Record<string, string> = { c: 'libc', i: 'icu', b: 'builtin', d: 'default' };
const TRIGGER_ENABLED: Record<string, string> = { O: 'origin', D: 'disabled', R: 'replica', A: 'always' };

function sortedStrings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return (value as string[]).slice().sort();
}

function emptyObjects(): Record<ObjectKind, Record<string, SchemaObject>> {
  return Object.fromEntries(OBJECT_KINDS.map((k) => [k, {}])) as Record<
    ObjectKind,
    Record<string, SchemaObject>
  >;
}

/**
 * Reads the catalog into a SchemaSnapshot: one query per object kind over all schemas at once (not per table),
 * inside one REPEATABLE READ READ ONLY transaction so every query sees the same catalog state. Two snapshots of
 * the same schema (without stats) serialise to identical bytes with `serializeSnapshot`.
 */
export async function snapshotSchema(
  client: ClientBase,
  options: SnapshotOptions = {},
): Promise<SchemaSnapshot> {
  const own = options.includeOwnership === true;
  const excluded = [...EXCLUDED_SCHEMAS, ...(options.excludeSchemas ?? [])];
  const objects = emptyObjects();
  let stats: SchemaSnapshot['stats'];
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await setLocalLockTimeout(client, 5000);
    const versionNum = Number(
      (await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`)).rows[0].v,
    );
    const q = async (sql: string): Promise<Row[]> => (await client.query(sql, [excluded])).rows as Row[];
    const put = (kind: ObjectKind, name: string, obj: SchemaObject): void => {
      objects[kind][name] = obj;
    };

    for (const r of await q(`
      SELECT n.nspname, quote_ident(n.nspname) AS qname, d.description, pg_get_userbyid(n.nspowner) AS owner,
             n.nspacl::text[] AS acl
        FROM pg_namespace n
        LEFT JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass
       WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_namespace', 'n.oid')}`)) {
      put('schema', r.qname as string, {
        schema: r.nspname as string,
        comment: r.description,
        ...(own ? { owner: r.owner, acl: sortedStrings(r.acl) } : {}),
      });
    }

    for (const r of await q(`
      SELECT e.extname, quote_ident(e.extname) AS qname, e.extversion, n.nspname
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
       WHERE $1::text[] IS NOT NULL`)) {
      put('extension', r.qname as string, { schema: r.nspname as string, version: r.extversion });
    }

    // to_jsonb: pg_collation's locale columns differ by major (colliculocale 15-16, colllocale 17+).
    for (const r of await q(`
      SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname) AS qname, n.nspname, to_jsonb(co) AS c,
             pg_encoding_to_char(co.collencoding) AS encoding, d.description,
             pg_get_userbyid(co.collowner) AS owner
        FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
        LEFT JOIN pg_description d ON d.objoid = co.oid AND d.classoid = 'pg_collation'::regclass
       WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_collation', 'co.oid')}`)) {
      const c = r.c as Record<string, unknown>;
      put('collation', r.qname as string, {
        schema: r.nspname as string,
        provider: COLLATION_PROVIDERS[c.collprovider as string] ?? c.collprovider,
        deterministic: c.collisdeterministic ?? true,
        collate: c.collcollate,
        ctype: c.collctype,
        locale: c.colllocale ?? c.colliculocale,
        icuRules: c.collicurules,
        // -1: any encoding
        encoding: r.encoding === '' ? undefined : r.encoding,
        comment: r.description,
        ...(own ? { owner: r.owner } : {}),
      });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS qname, n.nspname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
             CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
             CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
             (SELECT array_agg(quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) ORDER BY i.inhseqno)
                FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
                JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) AS parents,
             c.reloptions, d.description, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
       WHERE c.relkind IN ('r', 'p', 'f') AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      put('table', r.qname as string, {
        schema: r.nspname as string,
        type: RELKINDS[r.relkind as string],
        persistence: PERSISTENCE[r.relpersistence as string],
        rowSecurity: r.relrowsecurity,
        forceRowSecurity: r.relforcerowsecurity,
        partitionKey: r.partition_key,
        partitionBound: r.partition_bound,
        parents: r.parents,
        storageOptions: sortedStrings(r.reloptions),
        comment: r.description,
        ...(own ? { owner: r.owner, acl: sortedStrings(r.acl) } : {}),
      });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(a.attname) AS qattname,
             format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.attislocal, a.attinhcount,
             pg_get_expr(ad.adbin, ad.adrelid) AS default_expr, a.attidentity, a.attgenerated,
             CASE WHEN a.attcollation <> t.typcollation
                  THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                          FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                         WHERE co.oid = a.attcollation) END AS collation,
             d.description, a.attacl::text[] AS acl
        FROM pg_attribute a
        JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_type t ON t.oid = a.atttypid
        LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
        LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
       WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
         AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      const generated = r.attgenerated === 's';
      put('column', `${r.tqname as string}.${r.qattname as string}`, {
        schema: r.nspname as string,
        table: r.tqname as string,
        type: r.type,
        notNull: r.attnotnull,
        default: generated ? undefined : r.default_expr,
        generated: generated ? r.default_expr : undefined,
        identity: r.attidentity === 'a' ? 'always' : r.attidentity === 'd' ? 'by default' : undefined,
        collation: r.collation,
        // Only for inherited columns: a locally declared one survives the parent dropping it.
        declaredLocally: Number(r.attinhcount) > 0 ? r.attislocal : undefined,
        comment: r.description,
        ...(own ? { acl: sortedStrings(r.acl) } : {}),
      });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(co.conname) AS qconname, co.contype,
             pg_get_constraintdef(co.oid, true) AS def, co.convalidated, co.condeferrable, co.condeferred,
             co.confupdtype, co.confdeltype,
             (SELECT quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) FROM pg_class fc
                JOIN pg_namespace fn ON fn.oid = fc.relnamespace WHERE fc.oid = co.confrelid) AS references,
             d.description
        FROM pg_constraint co
        JOIN pg_class c ON c.oid = co.conrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d ON d.objoid = co.oid AND d.classoid = 'pg_constraint'::regclass
       WHERE co.conrelid <> 0 AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      const fk = r.contype === 'f';
      put('constraint', `${r.tqname as string}.${r.qconname as string}`, {
        schema: r.nspname as string,
        table: r.tqname as string,
        type: CONSTRAINT_TYPES[r.contype as string] ?? r.contype,
        definition: r.def,
        validated: r.convalidated,
        deferrable: r.condeferrable,
        initiallyDeferred: r.condeferred,
        references: fk ? r.references : undefined,
        onUpdate: fk ? FK_ACTIONS[r.confupdtype as string] : undefined,
        onDelete: fk ? FK_ACTIONS[r.confdeltype as string] : undefined,
        comment: r.description,
      });
    }

    for (const r of await q(`
      SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS qname, n.nspname, ${REL_QNAME} AS tqname,
             pg_get_indexdef(i.indexrelid) AS def, i.indisunique, i.indisprimary, i.indpred IS NOT NULL AS partial,
             am.amname, i.indisvalid,
             (SELECT quote_ident(co.conname) FROM pg_constraint co WHERE co.conindid = i.indexrelid
                 AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')) AS constraint_name,
             d.description
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class c ON c.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        JOIN pg_am am ON am.oid = ic.relam
        LEFT JOIN pg_description d ON d.objoid = ic.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
       WHERE c.relkind IN ('r', 'p', 'm') AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      put('index', r.qname as string, {
        schema: r.nspname as string,
        table: r.tqname as string,
        definition: r.def,
        unique: r.indisunique,
        primary: r.indisprimary,
        partial: r.partial,
        method: r.amname,
        valid: r.indisvalid,
        constraint: r.constraint_name,
        comment: r.description,
      });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS qname, n.nspname, c.relkind, pg_get_viewdef(c.oid, true) AS def, c.reloptions,
             d.description, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
       WHERE c.relkind IN ('v', 'm') AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      put(r.relkind === 'm' ? 'materialized_view' : 'view', r.qname as string, {
        schema: r.nspname as string,
        definition: r.def,
        options: sortedStrings(r.reloptions),
        comment: r.description,
        ...(own ? { owner: r.owner, acl: sortedStrings(r.acl) } : {}),
      });
    }

    // SQL-standard bodies (PostgreSQL 14+) live in prosqlbody, with prosrc empty.
    const body =
      versionNum >= 140000
        ? `CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END`
        : `p.prosrc`;
    for (const r of await q(`
      SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS qname,
             n.nspname, p.prokind, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
             l.lanname, p.provolatile, p.prosecdef, p.proisstrict, p.proleakproof, p.proparallel, p.proconfig,
             encode(sha256(convert_to(${body}, 'UTF8')), 'hex') AS body_sha256,
             d.description, pg_get_userbyid(p.proowner) AS owner, p.proacl::text[] AS acl
        FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        JOIN pg_language l ON l.oid = p.prolang
        LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass
       WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_proc', 'p.oid')}`)) {
      put('function', r.qname as string, {
        schema: r.nspname as string,
        kind: PROKINDS[r.prokind as string] ?? r.prokind,
        arguments: r.args,
        returns: r.result,
        language: r.lanname,
        volatility: VOLATILITY[r.provolatile as string],
        securityDefiner: r.prosecdef,
        strict: r.proisstrict,
        leakproof: r.proleakproof,
        parallel: PARALLEL[r.proparallel as string],
        settings: sortedStrings(r.proconfig),
        bodySha256: r.body_sha256,
        comment: r.description,
        ...(own ? { owner: r.owner, acl: sortedStrings(r.acl) } : {}),
      });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(t.tgname) AS qtgname, pg_get_triggerdef(t.oid, true) AS def,
             t.tgenabled, d.description
        FROM pg_trigger t
        JOIN pg_class c ON c.oid = t.tgrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_trigger'::regclass
       WHERE NOT t.tgisinternal AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      put('trigger', `${r.tqname as string}.${r.qtgname as string}`, {
        schema: r.nspname as string,
        table: r.tqname as string,
        definition: r.def,
        enabled: TRIGGER_ENABLED[r.tgenabled as string] ?? r.tgenabled,
        comment: r.description,
      });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS qname, n.nspname, format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start,
             s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache,
             s.seqcycle,
             (SELECT quote_ident(on_.nspname) || '.' || quote_ident(oc.relname) || '.' || quote_ident(oa.attname)
                FROM pg_depend od
                JOIN pg_class oc ON oc.oid = od.refobjid
                JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
                JOIN pg_attribute oa ON oa.attrelid = od.refobjid AND oa.attnum = od.refobjsubid
               WHERE od.classid = 'pg_class'::regclass AND od.objid = c.oid AND od.refobjsubid > 0
                 AND od.deptype IN ('a', 'i') LIMIT 1) AS owned_by,
             EXISTS (SELECT 1 FROM pg_depend od WHERE od.classid = 'pg_class'::regclass AND od.objid = c.oid
                        AND od.deptype = 'i') AS identity,
             d.description, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl
        FROM pg_sequence s
        JOIN pg_class c ON c.oid = s.seqrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
       WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`)) {
      put('sequence', r.qname as string, {
        schema: r.nspname as string,
        type: r.type,
        start: r.start,
        increment: r.increment,
        min: r.min,
        max: r.max,
        cache: r.cache,
        cycle: r.seqcycle,
        ownedBy: r.owned_by,
        identity: r.identity,
        comment: r.description,
        ...(own ? { owner: r.owner, acl: sortedStrings(r.acl) } : {}),
      });
    }

    for (const r of await q(`
      SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS qname, n.nspname, t.typtype,
             CASE WHEN t.typtype = 'e' THEN
               (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
             CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
             t.typnotnull, t.typdefault,
             CASE WHEN t.typtype = 'd' THEN
               (SELECT array_agg(quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid, true)
                                 || CASE WHEN co.convalidated THEN '' ELSE ' (not validated)' END ORDER BY co.conname)
                  FROM pg_constraint co WHERE co.contypid = t.oid) END AS checks,
             CASE WHEN t.typtype = 'c' THEN
               (SELECT array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                  FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
             CASE WHEN t.typcollation <> 0 AND t.typtype = 'd' AND t.typcollation <> bt.typcollation
                  THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                          FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                         WHERE co.oid = t.typcollation) END AS collation,
             d.description, pg_get_userbyid(t.typowner) AS owner, t.typacl::text[] AS acl
        FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
        LEFT JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_type'::regclass
       WHERE (t.typtype IN ('e', 'd')
              OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
         AND ${userNamespace('n')} AND ${notExtensionMember('pg_type', 't.oid')}`)) {
      const ownership = own ? { owner: r.owner, acl: sortedStrings(r.acl) } : {};
      const common = { schema: r.nspname as string, comment: r.description, ...ownership };
      if (r.typtype === 'e') put('enum', r.qname as string, { ...common, labels: r.labels });
      else if (r.typtype === 'd')
        put('domain', r.qname as string, {
          ...common,
          baseType: r.base_type,
          notNull: r.typnotnull,
          default: r.typdefault,
          checks: r.checks,
          collation: r.collation,
        });
      else put('composite_type', r.qname as string, { ...common, attributes: r.attributes });
    }

    for (const r of await q(`
      SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(p.polname) AS qpolname, p.polcmd, p.polpermissive,
             CASE WHEN p.polroles = '{0}' THEN ARRAY['public']
                  ELSE (SELECT array_agg(quote_ident(rolname) ORDER BY rolname) FROM pg_roles WHERE oid = ANY (p.polroles)) END AS roles,
             pg_get_expr(p.polqual, p.polrelid) AS using_expr, pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
        FROM pg_policy p
        JOIN pg_class c ON c.oid = p.polrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE ${userNamespace('n')}`)) {
      put('policy', `${r.tqname as string}.${r.qpolname as string}`, {
        schema: r.nspname as string,
        table: r.tqname as string,
        command: POLICY_COMMANDS[r.polcmd as string] ?? r.polcmd,
        permissive: r.polpermissive,
        roles: r.roles,
        using: r.using_expr,
        withCheck: r.check_expr,
      });
    }

    if (options.includeStats) {
      const tables: Record<string, TableStats> = {};
      for (const r of await q(
        lockFreeTableSizesSql(`
          SELECT c.oid, ${REL_QNAME} AS qname
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p', 'm') AND ${userNamespace('n')}`),
      )) {
        tables[r.qname as string] = {
          totalBytes: Number(r.total_bytes),
          tableBytes: Number(r.main_bytes),
          indexBytes: Number(r.index_bytes),
          // reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+).
          estimatedRows: Math.max(Number(r.reltuples), 0),
        };
      }
      stats = { tables };
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if ((err as { code?: string }).code === '55P03') {
      // Deparsing defaults and checks opens the table; a migration holding ACCESS EXCLUSIVE makes that wait.
      throw new LockTimeoutError(
        'Schema snapshot waited more than 5 s for a table lock (another session holds ACCESS EXCLUSIVE); retry later',
        { cause: err },
      );
    }
    throw err;
  }
  return canonicalize({
    formatVersion: 1,
    options: { includeOwnership: own },
    objects,
    stats,
  }) as SchemaSnapshot;
}

/** The snapshot as canonical JSON text: byte-identical for the same schema (and the same stats, if any). */
export function serializeSnapshot(snapshot: SchemaSnapshot): string {
  return canonicalJson(snapshot);
}

/** The snapshot without its stats: what comparisons and fingerprints use. */
export function withoutStats(snapshot: SchemaSnapshot): SchemaSnapshot {
  const { stats: _stats, ...rest } = snapshot;
  return rest;
}

/** Object counts per kind, for step outputs and the report. */
export function countObjects(snapshot: SchemaSnapshot): Record<ObjectKind, number> {
  return Object.fromEntries(
    OBJECT_KINDS.map((k) => [k, Object.keys(snapshot.objects[k] ?? {}).length]),
  ) as Record<ObjectKind, number>;
}
