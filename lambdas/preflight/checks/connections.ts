import type { ClientBase } from 'pg';
import { queryOneRow } from '../../shared/db';
import type { PreflightCheckResult } from '../../shared/step';
import { CLIENT_BACKEND, type CheckContext, type PreflightCheck } from '../types';

interface ConnectionCounts {
  max: number;
  reserved: number;
  used: number;
  db_used: number;
  db_limit: number;
  role_used: number;
  role_limit: number;
  by_app: { application: string; count: number }[];
}

/** Connection counts and limits of the server, this database and pgshift's role, and the biggest users. */
function readConnectionCounts(client: ClientBase): Promise<ConnectionCounts> {
  return queryOneRow<ConnectionCounts>(
    client,
    `SELECT current_setting('max_connections')::int AS max,
              current_setting('superuser_reserved_connections')::int
                + COALESCE(current_setting('reserved_connections', true)::int, 0)
                + COALESCE(current_setting('rds.rds_superuser_reserved_connections', true)::int, 0) AS reserved,
              (SELECT count(*)::int FROM pg_stat_activity WHERE ${CLIENT_BACKEND}) AS used,
              (SELECT count(*)::int FROM pg_stat_activity
                WHERE ${CLIENT_BACKEND} AND datname = current_database()) AS db_used,
              (SELECT datconnlimit FROM pg_database WHERE datname = current_database()) AS db_limit,
              (SELECT count(*)::int FROM pg_stat_activity
                WHERE ${CLIENT_BACKEND} AND usename = current_user) AS role_used,
              (SELECT rolconnlimit FROM pg_roles WHERE rolname = current_user) AS role_limit,
              (SELECT COALESCE(json_agg(json_build_object('application', app, 'count', n) ORDER BY n DESC, app), '[]')
                 FROM (SELECT COALESCE(NULLIF(application_name, ''), '(none)') AS app, count(*)::int AS n
                         FROM pg_stat_activity WHERE ${CLIENT_BACKEND} GROUP BY 1) s) AS by_app`,
  );
}

interface ConnectionLimit {
  scope: string;
  used: number;
  limit: number;
  free: number;
}

/** Each limit that applies (the server's usable connections; the database's and role's when set) and its room. */
function connectionLimits(r: ConnectionCounts, usable: number): ConnectionLimit[] {
  const limits = [{ scope: 'server', used: r.used, limit: usable, free: usable - r.used }];
  if (r.db_limit >= 0)
    limits.push({ scope: 'database', used: r.db_used, limit: r.db_limit, free: r.db_limit - r.db_used });
  if (r.role_limit >= 0)
    limits.push({
      scope: 'role',
      used: r.role_used,
      limit: r.role_limit,
      free: r.role_limit - r.role_used,
    });
  return limits;
}

/** connections: client connections vs max_connections (minus reserved), this database's and role's limits. */
export const connectionsCheck: PreflightCheck = {
  id: 'connections',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    const th = ctx.thresholds;
    const r = await readConnectionCounts(ctx.client);
    const usable = Math.max(r.max - r.reserved, 0);
    const free = usable - r.used;
    const limits = connectionLimits(r, usable);
    const value = {
      maxConnections: r.max,
      reserved: r.reserved,
      used: r.used,
      free,
      limits,
      byApplication: r.by_app,
    };
    const top = r.by_app
      .slice(0, 3)
      .map((a) => `"${a.application}" ${a.count}`)
      .join(', ');
    const tight = limits.filter((l) => l.free < th.connectionsNeeded);
    if (tight.length > 0) {
      return {
        id: this.id,
        status: 'fail',
        value,
        message:
          `No room for pgshift's ${th.connectionsNeeded} connections: ` +
          tight.map((l) => `${l.scope} limit ${l.limit}, ${l.used} in use`).join('; ') +
          `. Biggest users: ${top}. Shrink an application's pool or raise the limit first.`,
      };
    }
    const ratio = usable === 0 ? 1 : r.used / usable;
    if (ratio >= th.connectionsWarnRatio) {
      return {
        id: this.id,
        status: 'warn',
        value,
        message:
          `${r.used} of ${usable} usable connections in use (${Math.round(ratio * 100)}%); while the migration ` +
          `holds its locks, blocked application queries pile up and pools open more. Biggest users: ${top}.`,
      };
    }
    return {
      id: this.id,
      status: 'pass',
      value,
      message: `${r.used} of ${usable} usable connections in use; ${free} free. Biggest users: ${top}.`,
    };
  },
};
