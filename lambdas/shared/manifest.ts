import pLimit from 'p-limit';
import { backupPrefix, DEFAULT_BACKUP_PREFIX, manifestKeyFor } from './keys';
import { getText, listKeys, type ObjectStore } from './s3';
import { errorMessage } from './errors';

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

/** Why `value`, read from `<key>.manifest.json`, is not a manifest of the object `<key>`; undefined when it is. */
export function manifestProblem(value: unknown, key: string): string | undefined {
  const where = manifestKeyFor(key);
  if (!value || typeof value !== 'object' || Array.isArray(value)) return `${where} is not a JSON object`;
  const m: Partial<Record<keyof BackupManifest, unknown>> = value;
  if (m.manifestVersion !== 1) {
    return `${where} has manifestVersion ${JSON.stringify(m.manifestVersion)} (this pgshift reads 1)`;
  }
  if (m.key !== key) {
    return `${where} describes ${typeof m.key === 'string' ? m.key : 'no key'}, not ${key} (the manifest was copied, edited or written by a bug)`;
  }
  const missing = [
    typeof m.sha256 === 'string' && /^[0-9a-f]{64}$/.test(m.sha256) ? undefined : 'sha256',
    typeof m.sizeBytes === 'number' ? undefined : 'sizeBytes',
    typeof m.database === 'string' ? undefined : 'database',
    typeof m.finishedAt === 'string' ? undefined : 'finishedAt',
    typeof m.pgDumpVersion === 'string' ? undefined : 'pgDumpVersion',
  ].filter((f): f is string => f !== undefined);
  if (missing.length > 0) return `${where} lacks a valid ${missing.join(', ')}`;
  return undefined;
}

/** A manifest of the object `key`, by the checks manifestProblem makes. */
function isSoundManifest(value: unknown, key: string): value is BackupManifest {
  return manifestProblem(value, key) === undefined;
}

/** Parses a manifest's text; `problem` says why it is not a manifest of `key`. */
export function parseManifest(text: string, key: string): { manifest?: BackupManifest; problem?: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { problem: `${manifestKeyFor(key)} is not readable JSON (${errorMessage(err)})` };
  }
  return isSoundManifest(value, key) ? { manifest: value } : { problem: manifestProblem(value, key) };
}

/** One `<key>.manifest.json` under a database's prefix: its manifest when sound, else why not. */
export interface BackupEntry {
  /** The dump object's key (the manifest's key without `.manifest.json`). */
  key: string;
  manifestKey: string;
  manifest?: BackupManifest;
  /** Set when the manifest is unreadable or does not describe `key`: this is no backup to restore. */
  problem?: string;
}

/** Manifests read at once: a database with a year of hourly backups must not open 8,760 requests together. */
const MANIFEST_READS_AT_ONCE = 16;

/**
 * The manifests of one database, newest first by its key (`pg_backup_YYYYMMDD_HHMMSS`, when the backup was
 * taken, which no manifest's content can change), unsound ones included so `latest` can refuse them instead of
 * silently falling back to an older backup. Dumps without manifest are ignored: they are no backups. The order
 * comes from the listing alone, so `newest: n` reads only the newest n manifests (restore's `latest` reads one,
 * the report fifty) however many backups the database has.
 */
export async function listBackupEntries(
  store: ObjectStore,
  database: string,
  prefix = DEFAULT_BACKUP_PREFIX,
  options: { newest?: number } = {},
): Promise<BackupEntry[]> {
  const keys = (await listKeys(store, backupPrefix(database, prefix)))
    .filter((o) => o.key.endsWith(MANIFEST_SUFFIX))
    .map((o) => {
      const key = o.key.slice(0, -MANIFEST_SUFFIX.length);
      return { key, manifestKey: o.key, order: takenOrder(key) };
    })
    .sort((a, b) => (a.order < b.order ? 1 : a.order > b.order ? -1 : 0));
  const wanted = options.newest === undefined ? keys : keys.slice(0, options.newest);
  const limit = pLimit(MANIFEST_READS_AT_ONCE);
  return Promise.all(
    wanted.map(({ key, manifestKey }) =>
      limit(async (): Promise<BackupEntry> => ({
        key,
        manifestKey,
        ...parseManifest(await getText(store, manifestKey), key),
      })),
    ),
  );
}

/** A key's place in time: `..._120000_10.dump` (the tenth backup of that second) after `..._120000_9.dump`. */
function takenOrder(key: string): string {
  const m = /^(.*pg_backup_\d{8}_\d{6})(?:_(\d+))?\.dump$/.exec(key);
  return m ? `${m[1]}\u0000${(m[2] ?? '1').padStart(6, '0')}` : key;
}

/** The sound backups of one database, newest first (see listBackupEntries; `newest` counts unsound ones). */
export async function listBackups(
  store: ObjectStore,
  database: string,
  prefix = DEFAULT_BACKUP_PREFIX,
  options: { newest?: number } = {},
): Promise<BackupManifest[]> {
  return (await listBackupEntries(store, database, prefix, options)).flatMap((e) =>
    e.manifest ? [e.manifest] : [],
  );
}
