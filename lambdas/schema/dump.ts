import { spawn } from 'node:child_process';
import { libpqSessionEnv, redactSecrets, toolConninfo, type DatabaseTarget } from '../shared/db';
import { DumpFailedError } from '../shared/errors';
import { pgToolPath } from '../shared/pgtools';
import { HISTORY_SCHEMA } from '../shared/history';

export interface SchemaDumpOptions {
  /** Keep OWNER TO / GRANT statements (environment-specific, so off by default, like snapshots). */
  includeOwnership?: boolean;
  /** Environment for `pgToolPath` (PGSHIFT_PG_BIN). @default process.env */
  toolEnv?: NodeJS.ProcessEnv;
}

/**
 * `pg_dump --schema-only` of the target, without pgshift's own schema, as text. The password reaches pg_dump
 * only through PGPASSWORD (`libpqSessionEnv`); a failure is a DumpFailedError with pg_dump's redacted stderr.
 */
export async function dumpSchemaSql(
  target: DatabaseTarget,
  options: SchemaDumpOptions = {},
): Promise<string> {
  const tool = pgToolPath('pg_dump', options.toolEnv);
  const args = [
    `--dbname=${toolConninfo(target.database)}`,
    '--schema-only',
    '--no-password',
    `--exclude-schema=${HISTORY_SCHEMA}`,
  ];
  if (!options.includeOwnership) args.push('--no-owner', '--no-privileges');
  const child = spawn(tool, args, {
    env: await libpqSessionEnv(target, 'pgshift-schema'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (err.length < 16384) err += d;
  });
  const status = await new Promise<{ code: number | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, error }));
    child.once('close', (code) => resolve({ code }));
  });
  if (status.error || status.code !== 0) {
    const why = status.error ? `could not run (${status.error.message})` : `exited with code ${status.code}`;
    throw new DumpFailedError(`pg_dump --schema-only ${why}: ${redactSecrets(err.trim(), target)}`.trim(), {
      details: { database: target.database, exitCode: status.code },
    });
  }
  return Buffer.concat(out).toString('utf8');
}
