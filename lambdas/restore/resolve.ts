import type { BackupDeps } from '../backup/dump';
import { readManifest, untrustedManifest } from '../backup/verify';
import { BackupCorruptError, BackupNotFoundError } from '../shared/errors';
import { DEFAULT_BACKUP_PREFIX } from '../shared/keys';
import { listBackupEntries, MANIFEST_SUFFIX, type BackupManifest } from '../shared/manifest';

/** `latest` names the newest backup; when that one is unsound, saying so is the only safe answer. */
export function noFallback(err: BackupCorruptError): BackupCorruptError {
  return new BackupCorruptError(
    `restore latest: the newest backup is not sound, and pgshift does not fall back to an older one. ${err.message} ` +
      'To restore an older backup, name its key.',
    { cause: err, details: err.details },
  );
}

/** Resolves `backup` ("latest" or a key) to a manifest; a dump without manifest is never a backup. */
export async function resolveBackup(
  deps: Pick<BackupDeps, 'store'>,
  database: string,
  backup: string,
  prefix = DEFAULT_BACKUP_PREFIX,
): Promise<BackupManifest> {
  if (backup === 'latest') {
    const [newest] = await listBackupEntries(deps.store, database, prefix);
    if (!newest) {
      throw new BackupNotFoundError(`No complete backup of "${database}" (no manifest under ${prefix}/)`, {
        details: { database },
      });
    }
    if (!newest.manifest) throw noFallback(untrustedManifest(newest.key, newest.problem ?? 'unreadable'));
    return newest.manifest;
  }
  const key = backup.endsWith(MANIFEST_SUFFIX) ? backup.slice(0, -MANIFEST_SUFFIX.length) : backup;
  return readManifest(deps.store, key);
}
