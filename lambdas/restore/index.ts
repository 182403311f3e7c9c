/** The restore core: Lambda-free, called by the restore handler, the CLI and tests. */
export { restoreDatabase } from './restore';
export { resolveBackup } from './resolve';
export type { RestoreOptions, RestoreResult } from './restore';
export { cleanupRestoreCopies, listRestoreCopies } from './cleanup';
export type { CleanupOptions, RestoreCopy } from './cleanup';
export { conninfoDbname, copyName, parseCopyName } from './names';
export { pgRestoreFromStream } from './stream';
