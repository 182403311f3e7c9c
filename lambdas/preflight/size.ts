import type { ClientBase } from 'pg';
import { assertRestoreConfirmed, resolveBackup } from '../restore/resolve';
import { databaseSizeBytes } from '../shared/db';
import { ConfigurationError, DatabaseConnectionError } from '../shared/errors';
import type { ObjectStore } from '../shared/s3';
import type { SizeProbe } from '../shared/step';

/**
 * How many bytes of database a compressed dump byte becomes when restored. pg_dump's default compression
 * (gzip:1, pgshift's default) shrinks ordinary table data 3-6×, and the restore also rebuilds every index the
 * dump holds only as a definition; 4 errs on the side of Fargate, whose cost is a minute of task start, over
 * Lambda's, which is a restore killed at 15 minutes. An uncompressed dump restores to about its own size.
 */
export const RESTORE_EXPANSION = 4;

const MISSING_DATABASE = '3D000';

/** What the size probe needs from outside; the preflight handler and tests build their own. */
export interface SizeProbeDeps {
  /** A connected client on the target database (pgshift's session settings applied); ended here. */
  connect: () => Promise<ClientBase & { end(): Promise<void> }>;
  /** Where restore finds the backup's manifest. Required when `restore` is given. */
  store?: ObjectStore;
}

export interface SizeProbeOptions {
  /** For a restore: the backup it will restore, resolved exactly as the restore core resolves it. */
  restore?: {
    /** The database name as PostgreSQL knows it (the one replaced). */
    connected: string;
    /** Logical database name of the backups (key layout). */
    database: string;
    /** The name typed again (the restore's confirmation), checked before anything is read. */
    confirm: string | undefined;
    /** An S3 key of a dump or its manifest, or "latest". */
    backup: string;
    prefix?: string;
  };
}

/** The dump's expected size once restored (see RESTORE_EXPANSION). */
export function restoredSizeEstimate(backupSizeBytes: number, compression: string): number {
  return compression === 'none' ? backupSizeBytes : backupSizeBytes * RESTORE_EXPANSION;
}

async function currentDatabaseSize(deps: SizeProbeDeps, missingIsEmpty: boolean): Promise<number> {
  let client: Awaited<ReturnType<SizeProbeDeps['connect']>>;
  try {
    client = await deps.connect();
  } catch (err) {
    // A restore may recreate a database that was dropped: nothing to back up first, so nothing to measure.
    if (
      missingIsEmpty &&
      err instanceof DatabaseConnectionError &&
      err.details?.sqlState === MISSING_DATABASE
    ) {
      return 0;
    }
    throw err;
  }
  try {
    return await databaseSizeBytes(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * The sizes the state machine chooses a runner by (Lambda or Fargate): the database's own size, and for a
 * restore also the backup's (from its manifest, never the dump) and what the restore moves in all: the
 * pre-restore dump of the current database plus the restored backup.
 */
export async function probeSize(deps: SizeProbeDeps, options: SizeProbeOptions = {}): Promise<SizeProbe> {
  const { restore } = options;
  if (!restore) return { databaseSizeBytes: await currentDatabaseSize(deps, false) };
  if (!deps.store)
    throw new ConfigurationError('probeSize: a restore needs the object store to read its manifest');
  // The restore's own checks, in its order: a restore that will be refused fails here with the same error.
  assertRestoreConfirmed(restore.connected, restore.database, restore.confirm);
  const manifest = await resolveBackup(
    { store: deps.store },
    restore.database,
    restore.backup,
    restore.prefix,
  );
  const databaseSizeBytes = await currentDatabaseSize(deps, true);
  return {
    databaseSizeBytes,
    backupKey: manifest.key,
    backupSizeBytes: manifest.sizeBytes,
    backupCompression: manifest.compression,
    restoreSizeBytes: databaseSizeBytes + restoredSizeEstimate(manifest.sizeBytes, manifest.compression),
  };
}
