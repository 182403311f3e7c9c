import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import type { ClientBase } from 'pg';
import {
  libpqSessionEnvWith,
  redactSecrets,
  sessionSafetyOptions,
  toolConninfo,
  withClient,
  type DatabaseTarget,
} from '../shared/db';
import { DumpFailedError } from '../shared/errors';
import { backupKey, DEFAULT_BACKUP_PREFIX, manifestKeyFor } from '../shared/keys';
import type { BackupManifest } from '../shared/manifest';
import { assertToolNotOlder, parsePgVersion, pgToolVersion, type PgVersion } from '../shared/pg-version';
import { pgToolPath } from '../shared/pgtools';
import { encryptionParams, isNotFound, putJson, type ObjectStore } from '../shared/s3';
import { PGSHIFT_VERSION } from '../shared/pgshift-version';
import { resolveCompression } from './compression';
import type { BackupDeps } from './deps';
import { collectStderr, describeExit, exitedCleanly, waitForExit, type ExitStatus } from './process';
import { verifyBackup, type VerifyResult } from './verify';
import { MultipartWriter } from './multipart';
import { s3FailureText } from './upload-watch';

export interface DumpOptions {
  /** The database to dump (credentials travel to pg_dump only as PGPASSWORD). */
  target: DatabaseTarget;
  /** Logical database name for the key layout. @default target.database */
  database?: string;
  /** Key prefix. @default "backups" */
  prefix?: string;
  /** `config.backupCompression`. @default "1" (gzip level 1) */
  compression?: string;
  /** Recorded in the manifest: the Step Functions execution ARN or a local run id. */
  executionId: string;
  /** Why the backup was taken ("scheduled", "before-migration", "before-restore"...). */
  reason?: string;
  /** Multipart part size in bytes; memory held is about partSize × (queueSize + 1). @default 8 MiB */
  partSize?: number;
  /** Parts uploaded concurrently. @default 4 */
  queueSize?: number;
  /** Most parts of one object. @default 10,000 (S3's limit; lower only to test reaching it) */
  maxParts?: number;
  /** Clock, for tests. */
  now?: () => Date;
  /** Aborts the dump (e.g. the Lambda is running out of time): pg_dump is killed and nothing is left. */
  signal?: AbortSignal;
  /** Called once pg_dump runs (its pid), and as bytes flow; for progress reporting and tests. */
  onStarted?: (info: { pid: number }) => void;
  onProgress?: (bytes: number) => void;
}

/** A complete backup: the dump and its manifest are both in S3. */
export interface BackupResult {
  key: string;
  manifestKey: string;
  manifest: BackupManifest;
}

async function serverVersionOf(c: ClientBase): Promise<PgVersion> {
  const res = await c.query<{ server_version: string }>('SHOW server_version');
  return parsePgVersion(res.rows[0].server_version);
}

/** The server's version, read over a normal connection (this also proves the credentials and database). */
export async function readServerVersion(target: DatabaseTarget): Promise<PgVersion> {
  return withClient(target, serverVersionOf, 'pgshift-backup');
}

/**
 * What the dump needs from the server, over the one connection that also proves the credentials: its version
 * and the session safety settings it knows (PGOPTIONS for pg_dump's own session, see libpqSessionEnv).
 */
async function readServerForDump(target: DatabaseTarget): Promise<{ version: PgVersion; pgOptions: string }> {
  return withClient(
    target,
    async (c) => ({ version: await serverVersionOf(c), pgOptions: await sessionSafetyOptions(c) }),
    'pgshift-backup',
  );
}

const MIB = 1024 * 1024;

/**
 * Streams `pg_dump --format=custom` of `options.target` into S3 (multipart, SSE-KMS), hashing on the fly, and
 * writes `<key>.manifest.json` only after the upload completed. Memory stays bounded by the part buffers.
 * On a non-zero exit, a kill, an abort or an S3 failure the multipart upload is aborted, no manifest is written,
 * and a DumpFailedError carries pg_dump's stderr with the password redacted.
 */
export async function streamDumpToS3(deps: BackupDeps, options: DumpOptions): Promise<BackupResult> {
  const { store, log } = deps;
  const { target } = options;
  const database = options.database ?? target.database;
  const redact = (text: string): string => redactSecrets(text, target);

  // Connect first: wrong password, unreachable host or missing database fail here, before anything is written.
  // The server's version, pg_dump's and a free key are independent: asked together (one round trip of latency
  // before pg_dump starts instead of four), their errors still surface in this order, the database's first.
  const started = (options.now ?? (() => new Date()))();
  const [server, tool, free] = await Promise.allSettled([
    readServerForDump(target),
    pgToolVersion('pg_dump', deps.toolEnv),
    unusedKey(store, backupKey(database, started, options.prefix ?? DEFAULT_BACKUP_PREFIX)),
  ]);
  if (server.status === 'rejected') throw server.reason;
  if (tool.status === 'rejected') throw tool.reason;
  const serverVersion = server.value.version;
  const pgDumpVersion = tool.value;
  assertToolNotOlder('pg_dump', pgDumpVersion, serverVersion);
  const compression = resolveCompression(
    options.compression ?? '1',
    pgDumpVersion.major,
    serverVersion.major,
  );
  if (free.status === 'rejected') throw free.reason;
  const key = free.value;
  const manifestKey = manifestKeyFor(key);
  log.info('backup started', {
    database,
    key,
    host: target.host,
    serverVersion: serverVersion.text,
    pgDumpVersion: pgDumpVersion.text,
    compression: compression.label,
  });

  // `--no-password`: never prompt (there is no terminal); the password is in PGPASSWORD or the login fails.
  // The session safety settings (PGOPTIONS) let the server end the dump's backend soon after pg_dump dies.
  const args = [
    `--dbname=${toolConninfo(target.database)}`,
    '--format=custom',
    ...compression.args,
    '--no-password',
  ];
  const env = libpqSessionEnvWith(target, server.value.pgOptions, 'pgshift-backup');
  const child = spawn(pgToolPath('pg_dump', deps.toolEnv), args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr = collectStderr(child);
  const exited = waitForExit(child);
  if (child.pid !== undefined) options.onStarted?.({ pid: child.pid });

  const onAbort = (): void => {
    child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  // Bytes go from pg_dump's stdout straight into the hash and the part buffers: no stream stages between, so
  // each of the many small reads of the pipe costs one hash update and one copy (docs/performance.md).
  const hash = createHash('sha256');
  let bytes = 0;
  const writer = new MultipartWriter({
    s3: store.s3,
    params: {
      Bucket: store.bucket,
      Key: key,
      ContentType: 'application/octet-stream',
      ...encryptionParams(store),
    },
    partSize: options.partSize ?? 8 * MIB,
    queueSize: options.queueSize ?? 4,
    maxParts: options.maxParts,
  });
  const resume = (): void => {
    child.stdout.resume();
  };
  // A failed read of pg_dump's output loses bytes even when pg_dump then exits 0: it fails the backup.
  let readError: Error | undefined;
  child.stdout.on('error', (err) => {
    readError ??= err;
  });
  child.stdout.on('data', (chunk: Buffer) => {
    hash.update(chunk);
    bytes += chunk.length;
    options.onProgress?.(bytes);
    if (!writer.write(chunk)) {
      child.stdout.pause();
      writer.onDrain(resume);
    }
  });

  let status: ExitStatus | undefined;
  try {
    // pg_dump's stdout ends cleanly even when it fails or is killed: its exit status decides whether the
    // object may be completed. An S3 failure while pg_dump still writes ends the wait at once.
    status = await Promise.race([exited, writer.failed]);
    if (!exitedCleanly(status)) throw new Error(describeExit('pg_dump', status));
    if (readError) throw readError;
    await writer.finish();
  } catch (err) {
    // S3 failed (pg_dump may still be writing) or pg_dump failed. Either way the multipart upload is aborted
    // and pg_dump is gone. A kill of ours is a consequence, never the cause: the first failure is what the
    // error names.
    const killedByUs = child.exitCode === null && child.signalCode === null;
    if (killedByUs) {
      child.kill('SIGKILL');
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
    }
    await writer.abort(err);
    const exit = status ?? (await exited);
    options.signal?.removeEventListener('abort', onAbort);
    const watch = writer.watch;
    const s3Failed = watch.firstFailure !== undefined && (killedByUs || exitedCleanly(exit));
    // pgshift stopping the upload (the part limit) kills pg_dump too; that kill is not pg_dump's failure.
    const dumpFailed = !s3Failed && !killedByUs && !exitedCleanly(exit);
    const cause = s3Failed
      ? s3FailureText(watch, { bucket: store.bucket, key }, writer.uploaded)
      : dumpFailed
        ? describeExit('pg_dump', exit)
        : readError
          ? `reading pg_dump's output failed (${errorText(readError)})`
          : killedByUs && !watch.firstFailure
            ? `${(err as Error).message}; pgshift stopped pg_dump and aborted the multipart upload: nothing was left`
            : `upload to S3 failed (${errorText(err)})`;
    const message = redact(
      `Backup of "${database}" failed: ${options.signal?.aborted ? 'aborted; ' : ''}${cause}` +
        (dumpFailed && stderr() ? `: ${stderr()}` : ''),
    );
    log.error('backup failed', { database, key, error: message });
    throw new DumpFailedError(message, {
      cause: dumpFailed ? undefined : err,
      details: {
        database,
        key,
        exitCode: exit.code,
        signal: exit.signal,
        stderr: redact(stderr()),
        bytesStreamed: bytes,
        ...(s3Failed && watch.firstFailure
          ? {
              s3ErrorCode: watch.firstFailure.code,
              s3Message: watch.firstFailure.message,
              s3Command: watch.firstFailure.command,
              partNumber: watch.firstFailure.partNumber,
              bytesUploaded: writer.uploaded.bytes,
              partsUploaded: writer.uploaded.parts,
              multipartAborted: watch.aborted || !watch.uploadId,
              ...(watch.uploadId && !watch.aborted ? { uploadId: watch.uploadId } : {}),
            }
          : {}),
      },
    });
  }
  options.signal?.removeEventListener('abort', onAbort);

  const finished = new Date();
  const manifest: BackupManifest = {
    manifestVersion: 1,
    key,
    database,
    serverVersion: serverVersion.text,
    pgDumpVersion: pgDumpVersion.text,
    format: 'custom',
    compression: compression.label,
    sizeBytes: bytes,
    sha256: hash.digest('hex'),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    executionId: options.executionId,
    pgshiftVersion: PGSHIFT_VERSION,
    ...(options.reason ? { reason: options.reason } : {}),
  };
  try {
    await putJson(store, manifestKey, manifest);
  } catch (err) {
    // Without its manifest the dump does not count as a backup; remove it so nothing looks complete.
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key })).catch(() => undefined);
    throw new DumpFailedError(
      `Backup of "${database}" failed: writing the manifest failed (${errorText(err)})`,
      {
        cause: err,
        details: { database, key },
      },
    );
  }
  log.info('backup finished', {
    database,
    key,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    durationMs: manifest.durationMs,
  });
  return { key, manifestKey, manifest };
}

async function keyExists(store: ObjectStore, key: string): Promise<boolean> {
  try {
    await store.s3.send(new HeadObjectCommand({ Bucket: store.bucket, Key: key }));
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

/**
 * Two backups in the same second (a schedule and a pre-migration backup, or restore's pre-restore backup) would
 * share the seed's `pg_backup_YYYYMMDD_HHMMSS.dump` name and the second would overwrite the first; a free
 * `_2`, `_3`... suffix keeps both.
 */
async function unusedKey(store: ObjectStore, key: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? key : key.replace(/\.dump$/, `_${n}.dump`);
    if (!(await keyExists(store, candidate)) && !(await keyExists(store, manifestKeyFor(candidate)))) {
      return candidate;
    }
  }
}

function errorText(err: unknown): string {
  const e = err as { name?: string; message?: string };
  return `${e.name ?? 'Error'}: ${e.message ?? String(err)}`;
}

export interface CreateBackupOptions extends DumpOptions {
  /** Stream the object back through `pg_restore --list` and check it against the manifest. */
  verify?: boolean;
}

/** A backup, optionally verified after upload: what the backup step, restore and the CLI call. */
export async function createBackup(
  deps: BackupDeps,
  options: CreateBackupOptions,
): Promise<BackupResult & { verified?: VerifyResult }> {
  const result = await streamDumpToS3(deps, options);
  if (!options.verify) return result;
  const verified = await verifyBackup(deps, { key: result.key, manifest: result.manifest });
  return { ...result, verified };
}
