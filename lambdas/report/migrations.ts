import type { ClientBase } from 'pg';
import { quoteIdent } from '../shared/db';
import { historyTablesExist, readAppliedMigrations, readHistory } from '../shared/history';
import type { DatabaseReport } from './model';
import { REPORT_EXCLUDED_SCHEMAS } from './tables';

/** pgshift's applied migrations and history (when it ever ran here), and Alembic's version table if present. */
export async function readMigrations(
  client: ClientBase,
  maxHistory: number,
): Promise<DatabaseReport['migrations']> {
  const tracked = await historyTablesExist(client);
  const [applied, history] = tracked
    ? await Promise.all([readAppliedMigrations(client), readHistory(client, maxHistory)])
    : [[], []];
  return { tracked, applied, history, alembic: await readAlembicVersion(client) };
}

/** Alembic's version table, wherever it sits (Flask-Migrate puts it in the default schema). */
async function readAlembicVersion(client: ClientBase): Promise<DatabaseReport['migrations']['alembic']> {
  const found = await client.query<{ nspname: string }>(
    `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relname = 'alembic_version' AND c.relkind IN ('r', 'p') AND n.nspname <> ALL ($1::text[])
      ORDER BY n.nspname = 'public' DESC, n.nspname LIMIT 1`,
    [REPORT_EXCLUDED_SCHEMAS],
  );
  const schema = found.rows[0]?.nspname;
  if (schema === undefined) return null;
  const table = `${quoteIdent(schema)}.${quoteIdent('alembic_version')}`;
  const rows = await client.query<{ v: string }>(`SELECT version_num::text AS v FROM ${table} ORDER BY 1`);
  return { table, versions: rows.rows.map((r) => r.v) };
}
