import type { Log } from '../shared/logger';
import type { ObjectStore } from '../shared/s3';

/**
 * What the backup core needs from its caller: the store, a logger, and where the PostgreSQL tools are. Its own
 * file so dump.ts and verify.ts both use it without importing each other (verify needs only this from dump).
 */
export interface BackupDeps {
  store: ObjectStore;
  log: Log;
  /**
   * Environment for `pgToolPath` (PGSHIFT_PG_BIN); defaults to process.env. Its PATH and TMPDIR, when set, are
   * where the backup finds `mkfifo` and makes the FIFO (lambdas/backup/dump-output.ts).
   */
  toolEnv?: NodeJS.ProcessEnv;
}
