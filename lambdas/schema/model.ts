import { HISTORY_SCHEMA } from '../shared/history';

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

/** Size and row estimate of one table, for the diff's lock hazards and the report; never compared. */
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

/** A record with one entry per object kind, each made by `value` (typed without a cast, in OBJECT_KINDS order). */
export function perKind<T>(value: (kind: ObjectKind) => T): Record<ObjectKind, T> {
  return {
    schema: value('schema'),
    extension: value('extension'),
    collation: value('collation'),
    table: value('table'),
    column: value('column'),
    constraint: value('constraint'),
    index: value('index'),
    view: value('view'),
    materialized_view: value('materialized_view'),
    function: value('function'),
    trigger: value('trigger'),
    sequence: value('sequence'),
    enum: value('enum'),
    domain: value('domain'),
    composite_type: value('composite_type'),
    policy: value('policy'),
  };
}
