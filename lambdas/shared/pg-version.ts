import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ClientBase } from 'pg';
import { ConfigurationError, PgVersionMismatchError } from './errors';
import { pgToolPath, type PgTool } from './pgtools';

const execFileAsync = promisify(execFile);

/** A PostgreSQL version, of a server or of a client tool (pg_dump, pg_restore). */
export interface PgVersion {
  /** e.g. "15.18 (Debian 15.18-0+deb12u1)" as the tool or server prints it. */
  text: string;
  major: number;
  /** PostgreSQL's numeric form (server_version_num), e.g. 150018. */
  num: number;
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian ...)` or a server_version string into major/num. */
export function parsePgVersion(text: string): PgVersion {
  const version = text.replace(/^.*\(PostgreSQL\)\s*/, '');
  const m = /(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version);
  if (!m) throw new Error(`Cannot read a PostgreSQL version from "${text}"`);
  const major = Number(m[1]);
  const minor = Number(m[2] ?? 0);
  // Before 10, versions were major.minor.patch (9.6.24 -> 90624); since 10, major.patch (15.18 -> 150018).
  const num = major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100 + Number(m[3] ?? 0);
  return { text: version.trim(), major, num };
}

/** A server_version_num as a person names the release: 120000 → "12", 90600 → "9.6". */
export function formatVersionNum(num: number): string {
  const major = Math.floor(num / 10000);
  return major >= 10 ? String(major) : `${major}.${Math.floor((num % 10000) / 100)}`;
}

/** The connected server's version: its text from server_version, its number from server_version_num. */
export async function readServerPgVersion(client: ClientBase): Promise<PgVersion> {
  const { rows } = await client.query<{ v: string; num: string }>(
    `SELECT current_setting('server_version') AS v, current_setting('server_version_num') AS num`,
  );
  const [row] = rows;
  if (!row) throw new Error('current_setting(server_version) returned no row');
  return { ...parsePgVersion(row.v), num: Number(row.num) };
}

const toolVersionCache = new Map<string, Promise<PgVersion>>();

/** The version a client tool reports (`--version`), cached per path. */
export function pgToolVersion(tool: PgTool, env: NodeJS.ProcessEnv = process.env): Promise<PgVersion> {
  const path = pgToolPath(tool, env);
  let cached = toolVersionCache.get(path);
  if (!cached) {
    cached = execFileAsync(path, ['--version']).then(
      ({ stdout }) => parsePgVersion(stdout.trim()),
      (err: NodeJS.ErrnoException) => {
        toolVersionCache.delete(path);
        throw new ConfigurationError(
          err.code === 'ENOENT'
            ? `${tool} is not installed (looked for ${path}); install the PostgreSQL client or set PGSHIFT_PG_BIN`
            : `${tool} --version failed: ${err.message}`,
          { cause: err },
        );
      },
    );
    toolVersionCache.set(path, cached);
  }
  return cached;
}

/**
 * Refuses a client tool older than the server: pg_dump cannot dump a newer server ("server version mismatch")
 * and a pg_restore older than the pg_dump that wrote an archive cannot read it. The error names both versions.
 */
export function assertToolNotOlder(
  tool: 'pg_dump' | 'pg_restore',
  toolVersion: PgVersion,
  other: PgVersion,
  otherName = 'the server',
): void {
  if (toolVersion.major < other.major) {
    throw new PgVersionMismatchError(
      `${tool} ${toolVersion.text} is older than ${otherName} (${other.text}); ` +
        `use a ${tool} of major version ${other.major} or newer (PGSHIFT_PG_BIN / the image's PG_MAJOR)`,
      { details: { tool, toolVersion: toolVersion.text, otherVersion: other.text } },
    );
  }
}
