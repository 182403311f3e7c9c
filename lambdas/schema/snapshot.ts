import type { ClientBase } from 'pg';
import { z } from 'zod';
import { LockTimeoutError, errorCode } from '../shared/errors';
import { canonicalize, canonicalJson } from './canonical';
import { CATALOG_READERS, type CatalogContext } from './catalog';
import { REL_QNAME, userNamespace } from './catalog/reader';
import {
  EXCLUDED_SCHEMAS,
  perKind,
  type ObjectKind,
  type SchemaObject,
  type SchemaSnapshot,
  type SnapshotOptions,
  type TableStats,
} from './model';
import { lockFreeTableSizesSql, setLocalCatalogSettings } from './sizes';

export { EXCLUDED_SCHEMAS, OBJECT_KINDS } from './model';
export type { ObjectKind, SchemaObject, SchemaSnapshot, SnapshotOptions, TableStats } from './model';

const statsRow = z.object({
  qname: z.string(),
  total_bytes: z.coerce.number(),
  main_bytes: z.coerce.number(),
  index_bytes: z.coerce.number(),
  reltuples: z.coerce.number(),
});

/** Sizes and row estimates of every user table and materialized view, without waiting on a lock. */
async function readTableStats(client: ClientBase, excluded: string[]): Promise<Record<string, TableStats>> {
  const sql = lockFreeTableSizesSql(`
    SELECT c.oid, ${REL_QNAME} AS qname
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p', 'm') AND ${userNamespace('n')}`);
  const tables: Record<string, TableStats> = {};
  for (const raw of (await client.query(sql, [excluded])).rows) {
    const r = statsRow.parse(raw);
    tables[r.qname] = {
      totalBytes: r.total_bytes,
      tableBytes: r.main_bytes,
      indexBytes: r.index_bytes,
      // reltuples is -1 for a table never vacuumed or analyzed (PostgreSQL 14+).
      estimatedRows: Math.max(r.reltuples, 0),
    };
  }
  return tables;
}

/** Runs every catalog reader (catalog/index.ts) and files what each finds under its kind and name. */
async function readObjects(
  client: ClientBase,
  excluded: string[],
  ctx: CatalogContext,
): Promise<Record<ObjectKind, Record<string, SchemaObject>>> {
  const objects = perKind((): Record<string, SchemaObject> => ({}));
  for (const reader of CATALOG_READERS) {
    const { rows } = await client.query(reader.sql(ctx), [excluded]);
    for (const entry of reader.read(rows, ctx)) objects[entry.kind][entry.name] = entry.object;
  }
  return objects;
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
  const includeOwnership = options.includeOwnership === true;
  const excluded = [...EXCLUDED_SCHEMAS, ...(options.excludeSchemas ?? [])];
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await setLocalCatalogSettings(client, 5000);
    const version = await client.query<{ v: string }>(`SELECT current_setting('server_version_num') AS v`);
    const ctx: CatalogContext = { includeOwnership, serverVersionNum: Number(version.rows[0]?.v) };
    const objects = await readObjects(client, excluded, ctx);
    const stats = options.includeStats ? { tables: await readTableStats(client, excluded) } : undefined;
    await client.query('COMMIT');
    return canonicalize({ formatVersion: 1, options: { includeOwnership }, objects, stats });
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (errorCode(err) === '55P03') {
      // Deparsing defaults and checks opens the table; a migration holding ACCESS EXCLUSIVE makes that wait.
      throw new LockTimeoutError(
        'Schema snapshot waited more than 5 s for a table lock (another session holds ACCESS EXCLUSIVE); retry later',
        { cause: err },
      );
    }
    throw err;
  }
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
  // A snapshot written by an older pgshift may lack a kind added since.
  return perKind((k) => Object.keys(snapshot.objects[k] ?? {}).length);
}
