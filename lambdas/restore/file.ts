import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { exitedCleanly } from '../backup';
import type { DatabaseTarget } from '../shared/db';
import { formatBytes } from '../shared/format';
import { RestoreSpaceError, errorMessage } from '../shared/errors';
import type { BackupManifest } from '../shared/manifest';
import { getObjectStream, type ObjectStore } from '../shared/s3';
import {
  hashBeside,
  pgRestoreFailure,
  startPgRestore,
  type PgRestoreOptions,
  type PgRestoreOutcome,
} from './stream';

/** Room kept free beside the dump (pg_restore's and the system's own files). */
export const RESTORE_SPACE_MARGIN_BYTES = 512 * 1024 * 1024;

/** Where a parallel restore downloads the dump: the Fargate task's ephemeral storage, and how many jobs. */
export interface FileRestoreOptions extends PgRestoreOptions {
  /** `pg_restore --jobs`. */
  jobs: number;
  /** @default os.tmpdir() (the task's ephemeral storage) */
  directory?: string;
}

/**
 * Refuses before anything is written when `directory` cannot hold the dump plus the margin (statfs: the blocks
 * an unprivileged process may use).
 */
export async function assertRestoreSpace(manifest: BackupManifest, directory = tmpdir()): Promise<void> {
  const fs = await statfs(directory);
  const freeBytes = fs.bavail * fs.bsize;
  const neededBytes = manifest.sizeBytes + RESTORE_SPACE_MARGIN_BYTES;
  if (freeBytes >= neededBytes) return;
  throw new RestoreSpaceError(
    `Parallel restore refused: ${directory} has ${formatBytes(freeBytes)} free, the dump ${manifest.key} needs ` +
      `${formatBytes(neededBytes)} (its ${formatBytes(manifest.sizeBytes)} plus ${formatBytes(RESTORE_SPACE_MARGIN_BYTES)}). ` +
      'Raise the task’s ephemeral storage (context fargate.ephemeralStorageGiB), or restore without restoreJobs (streamed).',
    { details: { directory, freeBytes, neededBytes, backupKey: manifest.key } },
  );
}

/**
 * `pg_restore --jobs N` needs a seekable archive: the dump is downloaded to `directory` (hashed on the way, and
 * refused before pg_restore starts when it is not the manifest's), restored, and removed in every outcome.
 */
export async function pgRestoreFromFile(
  store: ObjectStore,
  manifest: BackupManifest,
  target: DatabaseTarget,
  options: FileRestoreOptions,
): Promise<PgRestoreOutcome> {
  const directory = options.directory ?? tmpdir();
  await assertRestoreSpace(manifest, directory);
  const dir = await mkdtemp(path.join(directory, 'pgshift-restore-'));
  try {
    const file = path.join(dir, 'backup.dump');
    const downloaded = await download(store, manifest.key, file);
    if (downloaded.sha256 !== manifest.sha256) {
      return { ok: false, ...downloaded, error: `the downloaded dump's sha256 is ${downloaded.sha256}` };
    }
    const { exited, stderr } = await startPgRestore(target, options, { file, jobs: options.jobs });
    const status = await exited;
    const ok = exitedCleanly(status);
    return { ok, ...downloaded, error: ok ? '' : pgRestoreFailure(status, stderr) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function download(
  store: ObjectStore,
  key: string,
  file: string,
): Promise<{ sha256: string; sizeBytes: number }> {
  const body = await getObjectStream(store, key);
  const digest = hashBeside(body);
  try {
    await pipeline(body, createWriteStream(file, { mode: 0o600 }));
  } catch (err) {
    throw new Error(`downloading ${key} to ${file} failed (${errorMessage(err)})`, { cause: err });
  }
  return digest();
}
