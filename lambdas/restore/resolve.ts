import { readManifest, untrustedManifest, type BackupDeps } from '../backup';
import { BackupCorruptError, BackupNotFoundError, RestoreRefusedError } from '../shared/errors';
import { DEFAULT_BACKUP_PREFIX } from '../shared/keys';
import { listBackupEntries, MANIFEST_SUFFIX, type BackupManifest } from '../shared/manifest';

/**
 * A restore's first check, before anything is read (the size probe makes it too, so a restore without the
 * confirmation is refused as such even before its backup is looked up): `confirm` must repeat the name of the
 * database (`connected`, as PostgreSQL knows it, or its logical name).
 */
export function assertRestoreConfirmed(
  connected: string,
  logical: string,
  confirm: string | undefined,
): void {
  if (confirm === undefined || (confirm !== connected && confirm !== logical)) {
    throw new RestoreRefusedError(
      `Restore of "${connected}" refused: it replaces the database's current contents; ` +
        `set confirm to the database name ("${connected}") to proceed`,
      { details: { database: connected, confirm: confirm ?? null } },
    );
  }
}

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
    const [newest] = await listBackupEntries(deps.store, database, prefix, { newest: 1 });
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
