import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { collectStderr, describeExit, exitedCleanly, waitForExit } from '../backup';
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

/**
 * Streams an archive into `pg_restore` (stdin, no temp file) targeting `target.database`, hashing the bytes as
 * they pass. Single job: parallel restore (`--jobs`) needs a seekable file, which would mean a temp copy of the
 * whole dump (Lambda's /tmp is at most 10 GB). `--exit-on-error` makes any failed statement fatal.
 */
export async function pgRestoreFromStream(
  body: Readable,
  target: DatabaseTarget,
  options: PgRestoreOptions = {},
): Promise<{ ok: boolean; sha256: string; sizeBytes: number; error: string }> {
  const args = [`--dbname=${toolConninfo(target.database)}`, '--exit-on-error', '--no-password'];
  if (options.noOwner ?? true) args.push('--no-owner');
  if (options.noPrivileges) args.push('--no-privileges');
  const child = spawn(pgToolPath('pg_restore', options.toolEnv), args, {
    env: await libpqSessionEnv(target, 'pgshift-restore'),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const stderr = collectStderr(child);
  const exited = waitForExit(child);
  if (child.pid !== undefined) options.onStarted?.({ pid: child.pid });
  const hash = createHash('sha256');
  let sizeBytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      sizeBytes += chunk.length;
      done(null, chunk);
    },
  });
  let streamError: unknown;
  await pipeline(body, counter, child.stdin).catch((err: unknown) => {
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
      : `${describeExit('pg_restore', status)}: ${stderr()}`;
  return { ok, sha256: hash.digest('hex'), sizeBytes, error };
}
