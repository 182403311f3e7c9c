import { z } from 'zod';
import type { ObjectKind, SchemaObject } from '../model';

/** What every reader's query and mapping may depend on. */
export interface CatalogContext {
  includeOwnership: boolean;
  /** `server_version_num`, for catalog columns that differ between majors. */
  serverVersionNum: number;
}

/** One object a reader found, under the kind and qualified name the snapshot files it by. */
export interface CatalogEntry {
  kind: ObjectKind;
  name: string;
  object: SchemaObject;
}

/**
 * How one kind of catalog object is read: one query over all user schemas (`$1` is the text[] of excluded
 * schema names), its row shape, and the mapping of a row to a snapshot object. A new object kind is a new
 * reader listed in catalog/index.ts.
 */
export interface CatalogReader<Row> {
  /** The kind it reads (a reader of views also yields materialized views, one of types enums and domains). */
  kind: ObjectKind;
  sql: (ctx: CatalogContext) => string;
  row: z.ZodType<Row>;
  toObject: (row: Row, ctx: CatalogContext) => CatalogEntry;
}

/** A reader with its row type closed over, so readers of different rows fit in one list. */
export interface RowReader {
  kind: ObjectKind;
  sql: (ctx: CatalogContext) => string;
  read: (rows: unknown[], ctx: CatalogContext) => CatalogEntry[];
}

export function defineReader<Row>(reader: CatalogReader<Row>): RowReader {
  return {
    kind: reader.kind,
    sql: reader.sql,
    read: (rows, ctx) => rows.map((r) => reader.toObject(reader.row.parse(r), ctx)),
  };
}

/** Column shapes as node-postgres returns them. */
export const text = z.string();
export const nullableText = z.string().nullable();
export const textArray = z.array(z.string()).nullable();

/**
 * The namespace filter every query shares, as SQL over a `pg_namespace` alias; `$1` is the text[] of
 * excluded schema names.
 */
export function userNamespace(alias: string): string {
  return `(${alias}.nspname <> ALL ($1::text[]) AND ${alias}.nspname NOT LIKE 'pg\\_toast%' AND ${alias}.nspname NOT LIKE 'pg\\_temp\\_%')`;
}

/** Objects created by an extension belong to it (the extension's version covers them). */
export function notExtensionMember(catalog: string, oid: string): string {
  return `NOT EXISTS (SELECT 1 FROM pg_depend dep WHERE dep.classid = '${catalog}'::regclass AND dep.objid = ${oid} AND dep.deptype = 'e')`;
}

/** A relation's qualified name over `pg_class c` and `pg_namespace n`. */
export const REL_QNAME = `quote_ident(n.nspname) || '.' || quote_ident(c.relname)`;

/** A table-scoped name: `<table>.<object>`. */
export function scopedName(table: string, object: string): string {
  return `${table}.${object}`;
}

export function sortedStrings(value: string[] | null): string[] | undefined {
  return value ? value.slice().sort() : undefined;
}

/** Owner and sorted ACL, only when the snapshot records ownership. */
export function ownership(
  ctx: CatalogContext,
  row: { owner: string | null; acl: string[] | null },
): { owner?: string | null; acl?: string[] } {
  return ctx.includeOwnership ? { owner: row.owner, acl: sortedStrings(row.acl) } : {};
}

/** A catalog code's name (`'c'` → `'cascade'`), or the code itself when the map does not know it. */
export function named(map: Record<string, string>, code: string): string {
  return map[code] ?? code;
}
