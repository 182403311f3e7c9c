import type { ClientBase } from 'pg';
import type { MigrationAnalysis, TableTouch } from '../shared/analysis';
import { strongerLock } from './locks';
import type { TouchedRelation } from './types';

export function relationKey(t: { schema: string; table: string }): string {
  return `${t.schema}.${t.table}`;
}

/**
 * Measures every table the pending migrations touch from the live catalog (the analysis' sizes may be stale
 * or absent); tables that do not exist yet keep the analysis' sizes, or zero.
 */
export async function measureTouchedRelations(
  client: ClientBase,
  analyses: MigrationAnalysis[],
): Promise<TouchedRelation[]> {
  const byKey = new Map<string, { touch: TableTouch; lock: TableTouch['lock'] }>();
  for (const a of analyses) {
    for (const t of a.touches) {
      const key = relationKey(t);
      const seen = byKey.get(key);
      byKey.set(key, { touch: seen?.touch ?? t, lock: seen ? strongerLock(seen.lock, t.lock) : t.lock });
    }
  }
  if (byKey.size === 0) return [];
  const entries = [...byKey.values()];
  const res = await client.query<{
    ord: number;
    oid: string | null;
    table_bytes: string | null;
    index_bytes: string | null;
  }>(
    `SELECT t.ord::int AS ord, c.oid::int8::text AS oid,
            pg_table_size(c.oid)::text AS table_bytes, pg_indexes_size(c.oid)::text AS index_bytes
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(schema_name, table_name, ord)
       LEFT JOIN pg_class c ON c.oid = to_regclass(quote_ident(t.schema_name) || '.' || quote_ident(t.table_name))`,
    [entries.map((e) => e.touch.schema), entries.map((e) => e.touch.table)],
  );
  const rowByOrd = new Map(res.rows.map((row) => [row.ord, row]));
  return entries.map(({ touch, lock }, i) => {
    const row = rowByOrd.get(i + 1);
    const measured = row !== undefined && row.oid !== null;
    return {
      schema: touch.schema,
      table: touch.table,
      oid: measured ? Number(row.oid) : null,
      tableBytes: measured ? Number(row.table_bytes) : (touch.sizeBytes ?? 0),
      indexBytes: measured ? Number(row.index_bytes) : (touch.indexBytes ?? 0),
      measured,
      strongestLock: lock,
    };
  });
}
