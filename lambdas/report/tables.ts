import type { ClientBase } from 'pg';
import { z } from 'zod';
import { quoteIdent } from '../shared/db';
import { errorCode } from '../shared/errors';
import { lockFreeTableSizesSql, setLocalCatalogSettings } from '../schema/sizes';
import type { TableReport } from './model';

/** Schemas whose relations the report leaves out (pgshift's own tables are listed: they are the user's too). */
export const REPORT_EXCLUDED_SCHEMAS = ['pg_catalog', 'information_schema'];

/** The report's relations: user tables, partitioned tables and materialized views. `$1`: excluded schemas. */
const REPORT_RELATIONS_SQL = `
  SELECT c.oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qname
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'p', 'm') AND n.nspname <> ALL ($1::text[]) AND n.nspname NOT LIKE 'pg\\_toast%'
     AND n.nspname NOT LIKE 'pg\\_temp\\_%'`;

const timestamp = z.date().nullable();
const tableRow = z.object({
  nspname: z.string(),
  relname: z.string(),
  qname: z.string(),
  relkind: z.string(),
  total: z.coerce.number(),
  main: z.coerce.number(),
  idx: z.coerce.number(),
  toast: z.coerce.number(),
  size_estimated: z.boolean(),
  reltuples: z.number(),
  relispopulated: z.boolean(),
  readable: z.boolean(),
  n_live_tup: z.coerce.number().nullable(),
  n_dead_tup: z.coerce.number().nullable(),
  last_vacuum: timestamp,
  last_autovacuum: timestamp,
  last_analyze: timestamp,
  last_autoanalyze: timestamp,
});
type TableRow = z.infer<typeof tableRow>;

/** Sizes (only of the report's relations, lock-free) and activity counters, largest first. */
async function readTableRows(client: ClientBase): Promise<TableRow[]> {
  await client.query('BEGIN READ ONLY');
  try {
    await setLocalCatalogSettings(client, 5000);
    const { rows } = await client.query(
      `SELECT n.nspname, c.relname, sz.qname, c.relkind, sz.total_bytes AS total, sz.main_bytes AS main,
              sz.index_bytes AS idx, sz.toast_bytes AS toast, sz.size_estimated, c.reltuples, c.relispopulated,
              has_table_privilege(c.oid, 'SELECT') AS readable, s.n_live_tup, s.n_dead_tup, s.last_vacuum,
              s.last_autovacuum, s.last_analyze, s.last_autoanalyze
         FROM (${lockFreeTableSizesSql(REPORT_RELATIONS_SQL)}) sz
         JOIN pg_class c ON c.oid = sz.oid JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        ORDER BY 5 DESC, 3`,
      [REPORT_EXCLUDED_SCHEMAS],
    );
    await client.query('COMMIT');
    return rows.map((r) => tableRow.parse(r));
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function iso(v: Date | null): string | null {
  return v ? v.toISOString() : null;
}

const KINDS: Record<string, TableReport['kind']> = { p: 'partitioned table', m: 'materialized view' };

function toTableReport(r: TableRow, exactRows: number | null): TableReport {
  return {
    schema: r.nspname,
    name: r.relname,
    qualifiedName: r.qname,
    kind: KINDS[r.relkind] ?? 'table',
    totalBytes: r.total,
    tableBytes: r.main,
    indexBytes: r.idx,
    toastBytes: r.toast,
    sizeEstimated: r.size_estimated,
    estimatedRows: r.reltuples < 0 ? null : r.reltuples,
    exactRows,
    liveTuples: r.n_live_tup ?? 0,
    deadTuples: r.n_dead_tup ?? 0,
    lastVacuum: iso(r.last_vacuum),
    lastAutovacuum: iso(r.last_autovacuum),
    lastAnalyze: iso(r.last_analyze),
    lastAutoanalyze: iso(r.last_autoanalyze),
  };
}

export interface TableListOptions {
  maxTables: number;
  exactCountMaxBytes: number;
  countLockTimeoutMs: number;
}

/** The largest `maxTables` tables with exact counts for the small ones, and how many there are in all. */
export async function readTables(
  client: ClientBase,
  o: TableListOptions,
): Promise<{ tables: TableReport[]; tableCount: number }> {
  const rows = await readTableRows(client);
  const tables: TableReport[] = [];
  for (const r of rows.slice(0, o.maxTables)) {
    // count(*) reads the relation: an unpopulated materialized view (WITH NO DATA, refreshed by a job) raises
    // 55000 and a table without SELECT raises 42501. Those get the catalog's estimate only.
    const countable = r.relkind !== 'p' && !r.size_estimated && r.relispopulated && r.readable;
    const exactRows =
      countable && r.total <= o.exactCountMaxBytes
        ? await exactCount(client, r.nspname, r.relname, o.countLockTimeoutMs)
        : null;
    tables.push(toTableReport(r, exactRows));
  }
  return { tables, tableCount: rows.length };
}

/** `count(*)` with a lock timeout, so a locked table costs a second, not the report; null when it timed out. */
async function exactCount(
  client: ClientBase,
  schema: string,
  table: string,
  lockTimeoutMs: number,
): Promise<number | null> {
  await client.query('BEGIN READ ONLY');
  try {
    await client.query(
      `SELECT set_config('lock_timeout', $1, true), set_config('statement_timeout', '60s', true)`,
      [`${lockTimeoutMs}ms`],
    );
    const res = await client.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${quoteIdent(schema)}.${quoteIdent(table)}`,
    );
    await client.query('COMMIT');
    return Number(res.rows[0]?.n);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const code = errorCode(err);
    // 55P03 lock_not_available, 57014 query_canceled (statement timeout)
    if (code === '55P03' || code === '57014') return null;
    throw err;
  }
}
