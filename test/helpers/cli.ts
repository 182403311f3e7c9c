/** The `bin/pgshift` executable as a user runs it, spawned against the rig (workflow tests). */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { rigInfo, type TestDatabase } from '../rig/helpers';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'pgshift');
export const EXAMPLES = path.join(ROOT, 'examples', 'migrations');

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command from the repository root and collects its output. */
export function runCommand(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Runs `pgshift <args>`; the functions' own logs kept quiet. */
export function pgshift(args: string[], env: Record<string, string> = {}): Promise<Ran> {
  return runCommand(BIN, args, { ...process.env, POWERTOOLS_LOG_LEVEL: 'CRITICAL', ...env });
}

/** The test database over TLS with full verification, as pgshift reaches RDS. */
export function tlsUrl(db: TestDatabase): string {
  const { pg } = rigInfo();
  return `postgres://${pg.user}:${encodeURIComponent(pg.password)}@localhost:${pg.port}/${db.name}?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile ?? '')}`;
}

/** Flags naming the test database and the rig's bucket (any command that reads them). */
export function rigFlags(db: TestDatabase): string[] {
  const info = rigInfo();
  return ['--database-url', tlsUrl(db), '--bucket', info.s3.bucket, '--s3-endpoint', info.s3.endpoint];
}

/** `pgshift local` flags for the test database, the rig's bucket and a migrations folder. */
export function localFlags(db: TestDatabase, migrations = EXAMPLES): string[] {
  return [...rigFlags(db), '--migrations', migrations];
}
