import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ConfigurationError } from './errors';

const execFileAsync = promisify(execFile);

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

export interface ToolVersion {
  /** e.g. "15.18 (Debian 15.18-0+deb12u1)" as the tool prints it. */
  text: string;
  major: number;
  /** PostgreSQL's numeric form, e.g. 150018. */
  num: number;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian ...)` or a server_version string into major/num. */
export function parsePgVersion(text: string): ToolVersion {
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.replace(/^.*\(PostgreSQL\)\s*/, ''));
  if (!m) throw new Error(`Cannot read a PostgreSQL version from "${text}"`);
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  // Before 10, versions were major.minor.patch (9.6.24 -> 90624); since 10, major.patch (15.18 -> 150018).
  const num = major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + Number(m[3] ?? 0);
  return { text: text.replace(/^.*\(PostgreSQL\)\s*/, '').trim(), major, num };
}

const versionCache = new Map<string, Promise<ToolVersion>>();

/** The version a client tool reports (`--version`), cached per path. */
export function pgToolVersion(tool: PgTool, env: NodeJS.ProcessEnv = process.env): Promise<ToolVersion> {
  const path = pgToolPath(tool, env);
  let cached = versionCache.get(path);
  if (!cached) {
    cached = execFileAsync(path, ['--version']).then(
      ({ stdout }) => parsePgVersion(stdout.trim()),
      (err: NodeJS.ErrnoException) => {
        versionCache.delete(path);
        throw new ConfigurationError(
          err.code === 'ENOENT'
            ? `${tool} is not installed (looked for ${path}); install the PostgreSQL client or set PGSHIFT_PG_BIN`
            : `${tool} --version failed: ${err.message}`,
          { cause: err },
        );
      },
    );
    versionCache.set(path, cached);
  }
  return cached;
}
