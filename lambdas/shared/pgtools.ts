import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigurationError } from './errors';

export type PgTool = 'pg_dump' | 'pg_restore' | 'psql';

/**
 * Path of a PostgreSQL client tool: `$PGSHIFT_PG_BIN/<tool>` when set (the image sets it; the rig sets it to the
 * server's bin dir so client and server majors match), else the tool on PATH.
 */
export function pgToolPath(tool: PgTool, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.PGSHIFT_PG_BIN;
  if (dir) {
    const path = join(dir, tool);
    if (!existsSync(path)) throw new ConfigurationError(`${tool} not found in PGSHIFT_PG_BIN=${dir}`);
    return path;
  }
  return tool;
}
