import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { collectStderr, describeExit, exitedCleanly, waitForExit, type ExitStatus } from '../backup';
import { libpqSessionEnv, toolConninfo, type DatabaseTarget } from '../shared/db';
import { pgToolPath } from '../shared/pgtools';
import { errorMessage } from '../shared/errors';

export interface PgRestoreOptions {
  /** `--no-owner`: objects belong to the restoring user (RDS users cannot take ownership as others). @default true */
  noOwner?: boolean;
  /** `--no-privileges`: skip GRANT/REVOKE (roles may not exist on this server). @default false */
  noPrivileges?: boolean;
  toolEnv?: NodeJS.ProcessEnv;
  onStarted?: (info: { pid: number }) => void;
}

/** How a pg_restore ended: `ok`, else `error` says why (pg_restore's stderr, or the read that broke off). */
export interface PgRestoreOutcome {
  ok: boolean;
  sha256: string;
  sizeBytes: number;
  error: string;
}

/** A started pg_restore: `--exit-on-error` makes any failed statement fatal. */
export interface PgRestoreProcess {
  child: ChildProcess;
  exited: Promise<ExitStatus>;
  stderr: () => string;
}

/** Starts pg_restore into `target.database`, reading the archive from stdin or from `source.file`. */
export async function startPgRestore(
  target: DatabaseTarget,
  options: PgRestoreOptions,
  source: { file: string; jobs: number } | 'stdin',
): Promise<PgRestoreProcess> {
  const args = [`--dbname=${toolConninfo(target.database)}`, '--exit-on-error', '--no-password'];
  if (options.noOwner ?? true) args.push('--no-owner');
  if (options.noPrivileges) args.push('--no-privileges');
  if (source !== 'stdin') args.push(`--jobs=${source.jobs}`, source.file);
  const child = spawn(pgToolPath('pg_restore', options.toolEnv), args, {
    env: await libpqSessionEnv(target, 'pgshift-restore'),
    stdio: [source === 'stdin' ? 'pipe' : 'ignore', 'ignore', 'pipe'],
  });
  const stderr = collectStderr(child);
  const exited = waitForExit(child);
  if (child.pid !== undefined) options.onStarted?.({ pid: child.pid });
  return { child, exited, stderr };
}

export function pgRestoreFailure(status: ExitStatus, stderr: () => string): string {
  return `${describeExit('pg_restore', status)}: ${stderr()}`;
}

/**
 * Streams an archive into `pg_restore` (stdin, no temp file) targeting `target.database`. The bytes are hashed
 * beside the pipe (a 'data' listener on the body, no stream stage between the body and pg_restore's stdin), so
 * the caller can check the sha256 against the manifest before it commits to the result. Single job: parallel
 * restore needs a seekable file (restoreFromFile, on Fargate's ephemeral storage).
 */
export async function pgRestoreFromStream(
  body: Readable,
  target: DatabaseTarget,
  options: PgRestoreOptions = {},
): Promise<PgRestoreOutcome> {
  const { child, exited, stderr } = await startPgRestore(target, options, 'stdin');
  const digest = hashBeside(body);
  let streamError: unknown;
  const stdin = child.stdin;
  if (!stdin) throw new Error('pg_restore was started without a stdin pipe');
  await pipeline(body, stdin).catch((err: unknown) => {
    streamError = err;
    // pg_restore died (EPIPE) or S3 broke off: either way pg_restore must not finish on a partial archive.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  });
  const status = await exited;
  const ok = exitedCleanly(status) && streamError === undefined;
  const error = ok
    ? ''
    : exitedCleanly(status)
      ? `reading the backup failed (${errorMessage(streamError)})`
      : pgRestoreFailure(status, stderr);
  return { ok, ...digest(), error };
}

/**
 * The SHA-256 and size of every byte `body` emits, taken beside whatever consumes it (a 'data' listener, no
 * stream stage in between); call the result once the body has ended.
 */
export function hashBeside(body: Readable): () => { sha256: string; sizeBytes: number } {
  const hash = createHash('sha256');
  let sizeBytes = 0;
  body.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    sizeBytes += chunk.length;
  });
  return () => ({ sha256: hash.digest('hex'), sizeBytes });
}
