/** The backup core: Lambda-free, called by the backup handler, the Fargate task, restore and the CLI. */
export { createBackup, readServerVersion, streamDumpToS3 } from './dump';
export type { BackupResult, CreateBackupOptions, DumpOptions } from './dump';
export type { BackupDeps } from './deps';
export { listArchive, readManifest, untrustedManifest, verifyBackup, verifyBackups } from './verify';
export type { BackupSoundness, VerifyResult } from './verify';
export { resolveCompression } from './compression';
export type { DumpCompression } from './compression';
export { assertToolNotOlder } from '../shared/pg-version';
export { collectStderr, describeExit, exitedCleanly, waitForExit } from './process';
export type { ExitStatus } from './process';
export { listBackupEntries, listBackups } from '../shared/manifest';
