import type { ClientBase } from 'pg';
import { z } from 'zod';
import type { DatabaseReport } from './model';

const serverRow = z.object({
  version: z.string(),
  num: z.number(),
  size: z.coerce.number(),
  max_conn: z.number(),
  reserved: z.number(),
});
const connectionRow = z.object({ state: z.string(), n: z.number() });

/** The server's version, the database's size and the connections by state. */
export async function readServer(client: ClientBase): Promise<DatabaseReport['server']> {
  const server = serverRow.parse(
    (
      await client.query(`
        SELECT current_setting('server_version') AS version, current_setting('server_version_num')::int AS num,
               pg_database_size(current_database()) AS size, current_setting('max_connections')::int AS max_conn,
               current_setting('superuser_reserved_connections')::int AS reserved`)
    ).rows[0],
  );
  const connections = (
    await client.query(`
      SELECT coalesce(state, 'unknown') AS state, count(*)::int AS n FROM pg_stat_activity
       WHERE backend_type = 'client backend' GROUP BY 1 ORDER BY 1`)
  ).rows.map((r) => connectionRow.parse(r));
  return {
    version: server.version,
    versionNum: server.num,
    databaseSizeBytes: server.size,
    maxConnections: server.max_conn,
    reservedConnections: server.reserved,
    connections: {
      total: connections.reduce((s, r) => s + r.n, 0),
      byState: Object.fromEntries(connections.map((r) => [r.state, r.n])),
    },
  };
}

const lockRow = z.object({
  pid: z.number(),
  relation: z.string().nullable(),
  locktype: z.string(),
  mode: z.string(),
  granted: z.boolean(),
  state: z.string().nullable(),
  waiting: z.number().nullable(),
});

/** Up to 100 locks other sessions hold or wait for in this database, waiting ones first. */
export async function readLocks(client: ClientBase): Promise<DatabaseReport['locks']> {
  const { rows } = await client.query(`
    SELECT l.pid, CASE WHEN l.relation IS NOT NULL THEN l.relation::regclass::text END AS relation, l.locktype,
           l.mode, l.granted, a.state,
           CASE WHEN NOT l.granted THEN extract(epoch FROM now() - a.state_change)::float8 END AS waiting
      FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.pid <> pg_backend_pid() AND (l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
           OR l.locktype NOT IN ('relation', 'object'))
       AND l.locktype <> 'virtualxid'
     ORDER BY l.granted, l.pid, 2 NULLS LAST
     LIMIT 100`);
  return rows.map((raw) => {
    const r = lockRow.parse(raw);
    return {
      pid: r.pid,
      relation: r.relation,
      lockType: r.locktype,
      mode: r.mode,
      granted: r.granted,
      state: r.state,
      waitingSeconds: r.waiting === null ? null : Math.round(r.waiting),
    };
  });
}

const queryRow = z.object({
  pid: z.number(),
  usename: z.string().nullable(),
  application_name: z.string().nullable(),
  state: z.string().nullable(),
  seconds: z.number(),
  query: z.string().nullable(),
});

/** Up to 50 statements or transactions running longer than `longQuerySeconds`, their text redacted. */
export async function readLongRunningQueries(
  client: ClientBase,
  longQuerySeconds: number,
  redact: (text: string) => string,
): Promise<DatabaseReport['longRunningQueries']> {
  const { rows } = await client.query(
    `SELECT pid, usename, application_name, state,
            extract(epoch FROM now() - coalesce(xact_start, query_start))::float8 AS seconds, left(query, 500) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        AND state IS DISTINCT FROM 'idle'
        AND now() - coalesce(xact_start, query_start) > make_interval(secs => $1)
      ORDER BY seconds DESC LIMIT 50`,
    [longQuerySeconds],
  );
  return rows.map((raw) => {
    const r = queryRow.parse(raw);
    return {
      pid: r.pid,
      user: r.usename,
      application: r.application_name,
      state: r.state,
      durationSeconds: Math.round(r.seconds),
      query: redact(r.query ?? ''),
    };
  });
}
