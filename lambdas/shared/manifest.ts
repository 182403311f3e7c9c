import { backupPrefix, DEFAULT_BACKUP_PREFIX } from './keys';
import { getJson, listKeys, type ObjectStore } from './s3';

/**
 * The manifest written next to a dump (`<key>.manifest.json`) only after the upload completed. A backup
 * exists only when its manifest exists: restore, report and `latest` read manifests, never bare dumps.
 */
export interface BackupManifest {
  manifestVersion: 1;
  /** The dump object's key. */
  key: string;
  /** The database name as PostgreSQL knows it (keys escape `/`). */
  database: string;
  serverVersion: string;
  pgDumpVersion: string;
  format: 'custom';
  /** e.g. "gzip:1", "zstd:3", "none". */
  compression: string;
  sizeBytes: number;
  sha256: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
  /** The execution (Step Functions execution ARN, or a local run id) that made it. */
  executionId: string;
  pgshiftVersion: string;
  /** Why it was taken: a scheduled backup, before a migration, before a restore... */
  reason?: string;
}

export const MANIFEST_SUFFIX = '.manifest.json';

/** All complete backups of one database, newest first (by finishedAt, then key). Dumps without manifest are ignored. */
export async function listBackups(
  store: ObjectStore,
  database: string,
  prefix = DEFAULT_BACKUP_PREFIX,
): Promise<BackupManifest[]> {
  const keys = (await listKeys(store, backupPrefix(database, prefix))).filter((o) =>
    o.key.endsWith(MANIFEST_SUFFIX),
  );
  const manifests = await Promise.all(keys.map((o) => getJson<BackupManifest>(store, o.key)));
  return manifests
    .filter((m) => m && m.manifestVersion === 1 && typeof m.key === 'string')
    .sort((a, b) => b.finishedAt.localeCompare(a.finishedAt) || b.key.localeCompare(a.key));
}
