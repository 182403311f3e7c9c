/**
 * INVALID indexes: what a failed (or killed) CREATE INDEX CONCURRENTLY leaves behind. IF NOT EXISTS would skip
 * such a leftover silently, so the runner finds them, names their fix and refuses to run over them.
 */
import type { ClientBase } from 'pg';
import { quoteIdent } from '../../shared/db';
import { record, records, text } from '../parse-tree';
import { nodeKind } from '../statements';
import type { ParsedStatement } from '../types';

export interface InvalidIndex {
  schema: string;
  index: string;
  table: string;
  /** What to run. */
  fix: string;
}

/** The sentence a failure message carries when INVALID indexes are left ('' when none). */
export function invalidIndexAdvice(invalid: InvalidIndex[]): string {
  if (invalid.length === 0) return '';
  return ` It left INVALID index(es) ${invalid.map((i) => `${i.schema}.${i.index}`).join(', ')}: run ${invalid.map((i) => i.fix).join(' ')} before re-running.`;
}

/** Invalid indexes (a failed CREATE INDEX CONCURRENTLY leaves one), optionally only those named. */
export async function findInvalidIndexes(
  client: ClientBase,
  names?: { schema?: string; index: string }[],
): Promise<InvalidIndex[]> {
  if (names && names.length === 0) return [];
  const res = await client.query<{ schema: string; index: string; table: string }>(
    `SELECT n.nspname AS schema, ci.relname AS index, ct.relname AS table
       FROM pg_index i
       JOIN pg_class ci ON ci.oid = i.indexrelid
       JOIN pg_class ct ON ct.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = ci.relnamespace
      WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1, 2`,
  );
  const rows = res.rows.filter(
    (r) =>
      !names || names.some((n) => n.index === r.index && (n.schema === undefined || n.schema === r.schema)),
  );
  return rows.map((r) => ({
    ...r,
    fix: `DROP INDEX CONCURRENTLY IF EXISTS ${quote(r.schema)}.${quote(r.index)};`,
  }));
}

/** Quotes a name only when it needs it, so the printed fix reads as a person would write it. */
function quote(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name);
}

/** Index names a migration builds (to find the INVALID ones a failed concurrent build leaves). */
export function indexesBuilt(statements: ParsedStatement[]): { schema?: string; index: string }[] {
  return statements.flatMap((s) => {
    const { kind, body } = nodeKind(s.node);
    const index = text(body.idxname);
    if (kind !== 'IndexStmt' || index === undefined) return [];
    return [{ schema: text(record(body.relation).schemaname), index }];
  });
}

/** The INVALID indexes a history row's details recorded (written by this module; anything else is skipped). */
export function recordedInvalidIndexes(value: unknown): InvalidIndex[] {
  return records(value).flatMap((r) => {
    const [schema, index, table, fix] = [text(r.schema), text(r.index), text(r.table), text(r.fix)];
    return schema !== undefined && index !== undefined && table !== undefined && fix !== undefined
      ? [{ schema, index, table, fix }]
      : [];
  });
}
