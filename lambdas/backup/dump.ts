import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import {
  libpqSessionEnvWith,
  redactSecrets,
  sessionSafetyOptions,
  toolConninfo,
  withClient,
  type DatabaseTarget,
} from '../shared/db';
import { BackupKeyTakenError, DumpFailedError, errorMessage, errorName } from '../shared/errors';
import { backupKey, DEFAULT_BACKUP_PREFIX, manifestKeyFor } from '../shared/keys';
import type { BackupManifest } from '../shared/manifest';
import { assertToolNotOlder, pgToolVersion, readServerPgVersion, type PgVersion } from '../shared/pg-version';
import { pgToolPath } from '../shared/pgtools';
import {
  encryptionParams,
  getText,
  isNotFound,
  isPreconditionFailed,
  jsonText,
  putJson,
  type ObjectStore,
} from '../shared/s3';
import { PGSHIFT_VERSION } from '../shared/pgshift-version';
import { resolveCompression, type DumpCompression } from './compression';
import { openDumpOutput, type DumpOutput } from './dump-output';
import type { BackupDeps } from './deps';
import { collectStderr, describeExit, exitedCleanly, waitForExit, type ExitStatus } from './process';
import { verifyBackup, type VerifyResult } from './verify';
import { MultipartWriter } from './multipart';
import { openUploadText, s3FailureText } from './upload-watch';

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

/** The server's version, read over a normal connection (this also proves the credentials and database). */
export async function readServerVersion(target: DatabaseTarget): Promise<PgVersion> {
  return withClient(target, readServerPgVersion, 'pgshift-backup');
}

/**
 * What the dump needs from the server, over the one connection that also proves the credentials: its version
 * and the session safety settings it knows (PGOPTIONS for pg_dump's own session, see libpqSessionEnv).
 */
async function readServerForDump(target: DatabaseTarget): Promise<{ version: PgVersion; pgOptions: string }> {
  return withClient(
    target,
    async (c) => ({ version: await readServerPgVersion(c), pgOptions: await sessionSafetyOptions(c) }),
    'pgshift-backup',
  );
}

const MIB = 1024 * 1024;

/** What is settled before pg_dump starts: the key, the versions and the compression they allow. */
interface DumpPlan {
  database: string;
  started: Date;
  key: string;
  manifestKey: string;
  serverVersion: PgVersion;
  pgDumpVersion: PgVersion;
  compression: DumpCompression;
  pgOptions: string;
}

/** A running pg_dump and what the failure path needs of it. */
interface RunningDump {
  child: ChildProcess;
  exited: Promise<ExitStatus>;
  stderr: () => string;
  output: DumpOutput;
  /** Bytes read from pg_dump so far (hashed and handed to the writer). */
  bytes: () => number;
  hash: Hash;
}

/**
 * Streams `pg_dump --format=custom` of `options.target` into S3 (multipart, SSE-KMS), hashing on the fly, and
 * writes `<key>.manifest.json` only after the upload completed. Memory stays bounded by the part buffers.
 * On a non-zero exit, a kill, an abort or an S3 failure the multipart upload is aborted, no manifest is written,
 * and a DumpFailedError carries pg_dump's stderr with the password redacted.
 */
export async function streamDumpToS3(deps: BackupDeps, options: DumpOptions): Promise<BackupResult> {
  const plan = await planDump(deps, options);
  const writer = new MultipartWriter({
    s3: deps.store.s3,
    params: {
      Bucket: deps.store.bucket,
      Key: plan.key,
      ContentType: 'application/octet-stream',
      ...encryptionParams(deps.store),
    },
    partSize: options.partSize ?? 8 * MIB,
    queueSize: options.queueSize ?? 4,
    maxParts: options.maxParts,
    // unusedKey checked the name was free, but another backup of the same second may take it meanwhile.
    createOnly: true,
  });
  const output = await openDumpOutput(deps.toolEnv);
  deps.log.info('backup started', {
    database: plan.database,
    key: plan.key,
    host: options.target.host,
    serverVersion: plan.serverVersion.text,
    pgDumpVersion: plan.pgDumpVersion.text,
    compression: plan.compression.label,
    dumpOutput: output.kind,
  });
  let dump: RunningDump;
  try {
    dump = startPgDump(deps, options, plan, output, writer);
  } catch (err) {
    await output.close();
    throw err;
  }
  const onAbort = (): void => {
    dump.child.kill('SIGTERM');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  try {
    await finishDump(dump, writer);
  } catch (err) {
    throw await dumpFailure(deps, options, plan, dump, writer, err);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await output.close();
  }
  const manifest = await writeManifest(deps, options, plan, dump);
  deps.log.info('backup finished', {
    database: plan.database,
    key: plan.key,
    sizeBytes: manifest.sizeBytes,
    sha256: manifest.sha256,
    durationMs: manifest.durationMs,
  });
  return { key: plan.key, manifestKey: plan.manifestKey, manifest };
}

/**
 * Connects first: wrong password, unreachable host or missing database fail here, before anything is written.
 * The server's version, pg_dump's and a free key are independent: asked together (one round trip of latency
 * before pg_dump starts instead of four), their errors still surface in this order, the database's first.
 */
async function planDump(deps: BackupDeps, options: DumpOptions): Promise<DumpPlan> {
  const database = options.database ?? options.target.database;
  const started = (options.now ?? (() => new Date()))();
  const [server, tool, free] = await Promise.allSettled([
    readServerForDump(options.target),
    pgToolVersion('pg_dump', deps.toolEnv),
    unusedKey(deps.store, backupKey(database, started, options.prefix ?? DEFAULT_BACKUP_PREFIX)),
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
  return {
    database,
    started,
    key: free.value,
    manifestKey: manifestKeyFor(free.value),
    serverVersion,
    pgDumpVersion,
    compression,
    pgOptions: server.value.pgOptions,
  };
}

/**
 * Starts pg_dump with its output going straight into the hash and the part buffers: no stream stages between,
 * so each read costs one hash update and one copy (docs/performance.md, "FIFO reads").
 */
function startPgDump(
  deps: BackupDeps,
  options: DumpOptions,
  plan: DumpPlan,
  output: DumpOutput,
  writer: MultipartWriter,
): RunningDump {
  const { target } = options;
  // `--no-password`: never prompt (there is no terminal); the password is in PGPASSWORD or the login fails.
  // The session safety settings (PGOPTIONS) let the server end the dump's backend soon after pg_dump dies.
  const args = [
    `--dbname=${toolConninfo(target.database)}`,
    '--format=custom',
    ...plan.compression.args,
    '--no-password',
    ...output.args,
  ];
  const child = spawn(pgToolPath('pg_dump', deps.toolEnv), args, {
    env: libpqSessionEnvWith(target, plan.pgOptions, 'pgshift-backup'),
    stdio: ['ignore', output.stdout, 'pipe'],
  });
  const stderr = collectStderr(child);
  const exited = waitForExit(child);
  if (child.pid !== undefined) options.onStarted?.({ pid: child.pid });
  const hash = createHash('sha256');
  let bytes = 0;
  const resume = (): void => output.resume();
  output.attach(child, (chunk) => {
    hash.update(chunk);
    bytes += chunk.length;
    options.onProgress?.(bytes);
    if (writer.write(chunk)) return true;
    writer.onDrain(resume);
    return false;
  });
  return { child, exited, stderr, output, bytes: () => bytes, hash };
}

/**
 * pg_dump's exit status decides whether the object may be completed (its output ends cleanly even when it
 * fails or is killed), once every byte it wrote was read. An S3 failure while pg_dump still writes ends the
 * wait at once. A failed read of pg_dump's output loses bytes even when pg_dump then exits 0.
 */
async function finishDump(dump: RunningDump, writer: MultipartWriter): Promise<void> {
  const status = await Promise.race([dump.exited, writer.failed]);
  if (!exitedCleanly(status)) throw new Error(describeExit('pg_dump', status));
  await Promise.race([dump.output.ended, writer.failed]);
  if (dump.output.readError) throw dump.output.readError;
  await writer.finish();
}

/**
 * S3 failed (pg_dump may still be writing) or pg_dump failed. Either way the multipart upload is aborted and
 * pg_dump is gone. A kill of ours is a consequence, never the cause: the first failure is what the error names.
 */
async function dumpFailure(
  deps: BackupDeps,
  options: DumpOptions,
  plan: DumpPlan,
  dump: RunningDump,
  writer: MultipartWriter,
  err: unknown,
): Promise<DumpFailedError | BackupKeyTakenError> {
  const { child } = dump;
  const killedByUs = child.exitCode === null && child.signalCode === null;
  if (killedByUs) child.kill('SIGKILL');
  await dump.output.close();
  await writer.abort(err);
  const exit = await dump.exited;
  if (err instanceof BackupKeyTakenError) {
    const left = openUploadText(writer.watch, { bucket: deps.store.bucket, key: plan.key });
    return keyTaken(deps, plan, 'the dump', err, left);
  }
  const watch = writer.watch;
  const s3Failed = watch.firstFailure !== undefined && (killedByUs || exitedCleanly(exit));
  // pgshift stopping the upload (the part limit) kills pg_dump too; that kill is not pg_dump's failure.
  const dumpFailed = !s3Failed && !killedByUs && !exitedCleanly(exit);
  const readError = dump.output.readError;
  const cause = s3Failed
    ? s3FailureText(watch, { bucket: deps.store.bucket, key: plan.key }, writer.uploaded)
    : dumpFailed
      ? describeExit('pg_dump', exit)
      : readError
        ? `reading pg_dump's output failed (${errorText(readError)})`
        : killedByUs && !watch.firstFailure
          ? `${errorMessage(err)}; pgshift stopped pg_dump and aborted the multipart upload: nothing was left`
          : `upload to S3 failed (${errorText(err)})`;
  const redact = (text: string): string => redactSecrets(text, options.target);
  const message = redact(
    `Backup of "${plan.database}" failed: ${options.signal?.aborted ? 'aborted; ' : ''}${cause}` +
      (dumpFailed && dump.stderr() ? `: ${dump.stderr()}` : ''),
  );
  deps.log.error('backup failed', { database: plan.database, key: plan.key, error: message });
  return new DumpFailedError(message, {
    cause: dumpFailed ? undefined : err,
    details: {
      database: plan.database,
      key: plan.key,
      exitCode: exit.code,
      signal: exit.signal,
      stderr: redact(dump.stderr()),
      bytesStreamed: dump.bytes(),
      ...(s3Failed ? s3FailureDetails(writer) : {}),
    },
  });
}

function s3FailureDetails(writer: MultipartWriter): Record<string, unknown> {
  const { watch } = writer;
  if (!watch.firstFailure) return {};
  return {
    s3ErrorCode: watch.firstFailure.code,
    s3Message: watch.firstFailure.message,
    s3Command: watch.firstFailure.command,
    partNumber: watch.firstFailure.partNumber,
    bytesUploaded: writer.uploaded.bytes,
    partsUploaded: writer.uploaded.parts,
    multipartAborted: watch.aborted || !watch.uploadId,
    ...(watch.uploadId && !watch.aborted ? { uploadId: watch.uploadId } : {}),
  };
}

/** The manifest, last: without it the dump does not count as a backup, so a failure removes the dump. */
async function writeManifest(
  deps: BackupDeps,
  options: DumpOptions,
  plan: DumpPlan,
  dump: RunningDump,
): Promise<BackupManifest> {
  const { database, key, started } = plan;
  const finished = new Date();
  const manifest: BackupManifest = {
    manifestVersion: 1,
    key,
    database,
    serverVersion: plan.serverVersion.text,
    pgDumpVersion: plan.pgDumpVersion.text,
    format: 'custom',
    compression: plan.compression.label,
    sizeBytes: dump.bytes(),
    sha256: dump.hash.digest('hex'),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    durationMs: finished.getTime() - started.getTime(),
    executionId: options.executionId,
    pgshiftVersion: PGSHIFT_VERSION,
    ...(options.reason ? { reason: options.reason } : {}),
  };
  try {
    await putJson(deps.store, plan.manifestKey, manifest, { createOnly: true });
  } catch (err) {
    // A retried PUT whose first attempt went through finds its own manifest: that is success.
    if (
      isPreconditionFailed(err) &&
      (await storedText(deps.store, plan.manifestKey)) === jsonText(manifest)
    ) {
      return manifest;
    }
    const { store } = deps;
    const removed = await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key })).then(
      () => true,
      () => false,
    );
    if (isPreconditionFailed(err)) {
      throw keyTaken(deps, plan, 'its manifest', err, removed ? undefined : `its dump ${key} (delete it)`);
    }
    throw new DumpFailedError(
      `Backup of "${database}" failed: writing the manifest failed (${errorText(err)})`,
      { cause: err, details: { database, key } },
    );
  }
  return manifest;
}

async function storedText(store: ObjectStore, key: string): Promise<string | undefined> {
  return getText(store, key).catch(() => undefined);
}

/**
 * S3 refused to overwrite the backup's key (another backup of the database took the same name in the same
 * second): what the person on call reads, with what of this backup could not be removed (`left`), if anything.
 */
function keyTaken(
  deps: BackupDeps,
  plan: DumpPlan,
  what: 'the dump' | 'its manifest',
  err: unknown,
  left: string | undefined,
): BackupKeyTakenError {
  const message =
    `Backup of "${plan.database}" failed: another backup of this database wrote ${plan.key} first ` +
    `(the same second); S3 refused to overwrite ${what === 'the dump' ? 'it' : 'its manifest'} ` +
    `(If-None-Match: *), so the other backup is intact. ` +
    (left === undefined
      ? 'Nothing of this backup was left. Run the backup again: it takes the next free name.'
      : `Removing this backup failed: ${left}, then run the backup again.`);
  deps.log.error('backup failed', { database: plan.database, key: plan.key, error: message });
  return new BackupKeyTakenError(message, {
    cause: err,
    details: {
      database: plan.database,
      key: plan.key,
      refused: what === 'the dump' ? 'dump' : 'manifest',
      ...(left === undefined ? {} : { left }),
    },
  });
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
  return `${errorName(err)}: ${errorMessage(err)}`;
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
