import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { BackupCorruptError, BackupNotFoundError } from '../shared/errors';
import { DEFAULT_BACKUP_PREFIX, manifestKeyFor } from '../shared/keys';
import { listBackupEntries, parseManifest, type BackupManifest } from '../shared/manifest';
import { pgToolPath } from '../shared/pgtools';
import { getObjectStream, getText, isNotFound, type ObjectStore } from '../shared/s3';
import { collectStderr, describeExit, exitedCleanly, waitForExit } from './process';
import type { BackupDeps } from './deps';

export interface VerifyResult {
  key: string;
  sha256: string;
  sizeBytes: number;
  /** Entries in the archive's table of contents, as `pg_restore --list` read them. */
  tocEntries: number;
}

/**
 * Reads the manifest beside `key` and checks that it describes exactly that object. BackupNotFoundError when
 * there is none (a dump without manifest is no backup); BackupCorruptError (refused) when it is unreadable or
 * names another object, so a copied or edited manifest can never make pgshift restore a different backup.
 */
export async function readManifest(store: ObjectStore, key: string): Promise<BackupManifest> {
  let text: string;
  try {
    text = await getText(store, manifestKeyFor(key));
  } catch (err) {
    if (isNotFound(err)) {
      throw new BackupNotFoundError(`No complete backup at ${key} (no manifest ${manifestKeyFor(key)})`, {
        details: { key },
      });
    }
    throw err;
  }
  const { manifest, problem } = parseManifest(text, key);
  if (!manifest) throw untrustedManifest(key, problem ?? 'unreadable');
  return manifest;
}

/** The refusal for a manifest that cannot be trusted for `key`. */
export function untrustedManifest(key: string, problem: string): BackupCorruptError {
  return new BackupCorruptError(
    `Backup ${key} refused: ${problem}. Nothing was read from the dump and nothing was changed. ` +
      `Find out who wrote ${manifestKeyFor(key)} (the bucket's object versions keep its history); ` +
      '"pgshift backups --verify" lists the backups that are sound.',
    { details: { key, manifestKey: manifestKeyFor(key), problem } },
  );
}

/** Writes a chunk, waiting for drain; resolves false once the reader has gone away (pg_restore exited). */
function writeChunk(stream: Writable, chunk: Buffer): Promise<boolean> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => {
    const ok = stream.write(chunk, (err) => {
      if (err) resolve(false);
    });
    if (ok) return resolve(true);
    const onDrain = (): void => done(true);
    const onGone = (): void => done(false);
    function done(alive: boolean): void {
      stream.off('drain', onDrain);
      stream.off('close', onGone);
      stream.off('error', onGone);
      resolve(alive);
    }
    stream.on('drain', onDrain);
    stream.once('close', onGone);
    stream.once('error', onGone);
  });
}

/**
 * Streams `body` into `pg_restore --list` while hashing every byte. pg_restore may stop reading after the table
 * of contents; hashing continues to the end regardless.
 */
export async function listArchive(
  body: Readable,
  toolEnv?: NodeJS.ProcessEnv,
): Promise<{ sha256: string; sizeBytes: number; listOk: boolean; toc: string; error: string }> {
  const child = spawn(pgToolPath('pg_restore', toolEnv), ['--list'], { stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = collectStderr(child);
  const exited = waitForExit(child);
  let toc = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (d: string) => (toc += d));
  child.stdin.on('error', () => undefined); // EPIPE once pg_restore has read what it needs
  const hash = createHash('sha256');
  let sizeBytes = 0;
  let feeding = true;
  for await (const chunk of body) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    hash.update(buf);
    sizeBytes += buf.length;
    if (feeding) feeding = await writeChunk(child.stdin, buf);
  }
  child.stdin.end();
  const status = await exited;
  return {
    sha256: hash.digest('hex'),
    sizeBytes,
    listOk: exitedCleanly(status),
    toc,
    error: exitedCleanly(status) ? '' : `${describeExit('pg_restore --list', status)}: ${stderr()}`,
  };
}

/**
 * Streams a backup back from S3 through `pg_restore --list` and checks its size and sha256 against the
 * manifest. Throws BackupCorruptError on any mismatch or an unreadable archive, BackupNotFoundError when the
 * manifest is missing.
 */
export async function verifyBackup(
  deps: Pick<BackupDeps, 'store' | 'log' | 'toolEnv'>,
  options: { key: string; manifest?: BackupManifest },
): Promise<VerifyResult> {
  const { store, log } = deps;
  const manifest = options.manifest ?? (await readManifest(store, options.key));
  if (manifest.key !== options.key) {
    throw untrustedManifest(options.key, `its manifest describes ${manifest.key}, not ${options.key}`);
  }
  let body: Readable;
  try {
    body = await getObjectStream(store, options.key);
  } catch (err) {
    if (isNotFound(err)) {
      throw new BackupCorruptError(`Backup ${options.key} has a manifest but its dump object is missing`, {
        details: { key: options.key },
      });
    }
    throw err;
  }
  const got = await listArchive(body, deps.toolEnv);
  const problems: string[] = [];
  if (got.sizeBytes !== manifest.sizeBytes) {
    problems.push(`size ${got.sizeBytes} bytes, manifest says ${manifest.sizeBytes}`);
  }
  if (got.sha256 !== manifest.sha256) problems.push(`sha256 ${got.sha256}, manifest says ${manifest.sha256}`);
  if (!got.listOk) problems.push(`pg_restore cannot read it (${got.error})`);
  if (problems.length > 0) {
    log.error('backup verification failed', { key: options.key, problems });
    throw new BackupCorruptError(`Backup ${options.key} is corrupt: ${problems.join('; ')}`, {
      details: { key: options.key, problems },
    });
  }
  const tocEntries = got.toc.split('\n').filter((l) => l.trim() !== '' && !l.startsWith(';')).length;
  log.info('backup verified', { key: options.key, sha256: got.sha256, sizeBytes: got.sizeBytes, tocEntries });
  return { key: options.key, sha256: got.sha256, sizeBytes: got.sizeBytes, tocEntries };
}

/** One backup as `verifyBackups` judged it. */
export interface BackupSoundness {
  key: string;
  sound: boolean;
  /** Why it is not sound (its manifest, or what the dump check found). */
  problem?: string;
  finishedAt?: string;
  sizeBytes?: number;
  sha256?: string;
  tocEntries?: number;
}

/**
 * Checks every backup of a database, newest first: its manifest describes its own object, and that object's
 * size, sha256 and `pg_restore --list` match. One at a time (each streams a whole dump). Never throws for what
 * it finds.
 */
export async function verifyBackups(
  deps: Pick<BackupDeps, 'store' | 'log' | 'toolEnv'>,
  database: string,
  prefix = DEFAULT_BACKUP_PREFIX,
): Promise<BackupSoundness[]> {
  const out: BackupSoundness[] = [];
  for (const entry of await listBackupEntries(deps.store, database, prefix)) {
    if (!entry.manifest) {
      out.push({ key: entry.key, sound: false, problem: entry.problem });
      continue;
    }
    const { finishedAt } = entry.manifest;
    try {
      const v = await verifyBackup(deps, { key: entry.key, manifest: entry.manifest });
      out.push({ ...v, sound: true, finishedAt });
    } catch (err) {
      if (!(err instanceof BackupCorruptError)) throw err;
      out.push({ key: entry.key, sound: false, finishedAt, problem: err.message });
    }
  }
  return out;
}
