import type { ClientBase } from 'pg';
import {
  assertToolNotOlder,
  createBackup,
  verifyBackup,
  type BackupDeps,
  type BackupResult,
} from '../backup';
import {
  quoteIdent,
  quoteLiteral,
  redactSecrets,
  withClient,
  withDatabaseName,
  type DatabaseTarget,
} from '../shared/db';
import {
  BackupCorruptError,
  RestoreFailedError,
  RestoreRefusedError,
  errorCode,
  errorMessage,
} from '../shared/errors';
import { ensureHistoryTables, recordHistoryEvent } from '../shared/history';
import { timestampUtc } from '../shared/keys';
import type { BackupManifest } from '../shared/manifest';
import { parsePgVersion, pgToolVersion } from '../shared/pg-version';
import { getObjectStream } from '../shared/s3';
import { cleanupRestoreCopies, type RestoreCopy } from './cleanup';
import { copyName } from './names';
import { assertRestoreConfirmed, noFallback, resolveBackup } from './resolve';
import { assertRestoreSpace, pgRestoreFromFile } from './file';
import { pgRestoreFromStream } from './stream';

export interface RestoreOptions {
  /** The database to replace (its name is what gets swapped). */
  target: DatabaseTarget;
  /** Logical database name of the backups (key layout). @default target.database */
  database?: string;
  /** An S3 key of a dump (or of its manifest), or "latest": the newest backup with a manifest. */
  backup: string;
  /** The database name typed again; anything else refuses before anything is touched. */
  confirm?: string;
  /** Accept a backup whose manifest names another database. */
  allowOtherDatabase?: boolean;
  executionId: string;
  /** Who asked (recorded in history with the database user). @default executionId */
  requestedBy?: string;
  prefix?: string;
  /** Compression of the pre-restore backup (config.backupCompression). */
  compression?: string;
  /** pg_restore --no-owner. @default true */
  noOwner?: boolean;
  /** pg_restore --no-privileges. @default false */
  noPrivileges?: boolean;
  /** ANALYZE the restored database before it serves (pg_restore leaves no planner statistics). @default true */
  analyze?: boolean;
  /**
   * `pg_restore --jobs`: download the dump to `jobsDirectory` (its free space checked first) and restore in
   * parallel; only where that storage exists (Fargate's ephemeral storage). @default streamed, one job
   */
  jobs?: number;
  /** @default os.tmpdir() */
  jobsDirectory?: string;
  /** After a successful restore, drop copies older than this many days. @default keep all until `cleanup` */
  retentionDays?: number;
  now?: () => Date;
  /** Test and progress hooks. */
  hooks?: {
    onRestoreStarted?: (info: { pid: number }) => void;
    /** Called after the copy is restored, right before connections are terminated and names swapped. */
    beforeSwap?: (info: { restoreDatabase: string }) => Promise<void> | void;
  };
}

export interface RestoreResult {
  database: string;
  backupKey: string;
  backup: BackupManifest;
  /** The backup of the state just before the restore (null when the database did not exist). */
  preRestoreBackup: { key: string; manifestKey: string; sizeBytes: number } | null;
  /** Where the previous database now lives (`<db>__pgshift_before_<ts>`), kept until cleanup/retention. */
  previousDatabase: string | null;
  /** Other sessions on the database terminated at the swap. */
  terminatedConnections: number;
  durationMs: number;
  /** Copies dropped by retention after this restore. */
  droppedCopies: RestoreCopy[];
}

interface DatabaseShape {
  encoding: string;
  datcollate: string;
  datctype: string;
  datlocprovider?: string;
  daticulocale?: string | null;
  datlocale?: string | null;
}

async function readDatabaseShape(maintenance: ClientBase, name: string): Promise<DatabaseShape | undefined> {
  // to_jsonb keeps this working across majors whose pg_database columns differ (ICU fields from 15, datlocale 17).
  const res = await maintenance.query<{ d: DatabaseShape & { datencoding: number } }>(
    `SELECT to_jsonb(d) || jsonb_build_object('encoding', pg_encoding_to_char(d.encoding)) AS d
       FROM pg_database d WHERE datname = $1`,
    [name],
  );
  return res.rows[0]?.d;
}

/** CREATE DATABASE for the restore copy with the original's encoding and locale (pg_dump -Fc does not carry them). */
function createDatabaseSql(name: string, shape: DatabaseShape | undefined): string {
  let sql = `CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`;
  if (!shape) return sql;
  sql += ` ENCODING ${quoteLiteral(shape.encoding)} LC_COLLATE ${quoteLiteral(shape.datcollate)} LC_CTYPE ${quoteLiteral(shape.datctype)}`;
  if (shape.datlocprovider === 'i') {
    sql += ` LOCALE_PROVIDER icu ICU_LOCALE ${quoteLiteral(shape.datlocale ?? shape.daticulocale ?? 'und')}`;
  }
  return sql;
}

const OBJECT_IN_USE = '55006';

/** What one restore settled on before it touched anything, and the names it uses. */
interface RestorePlan {
  deps: BackupDeps;
  options: RestoreOptions;
  target: DatabaseTarget;
  /** Logical name of the backups. */
  database: string;
  manifest: BackupManifest;
  maintenance: DatabaseTarget;
  /** The database's encoding and locale; undefined when it does not exist. */
  shape: DatabaseShape | undefined;
  restoreName: string;
  beforeName: string;
  started: Date;
  now: () => Date;
  redact: (text: string) => string;
}

/**
 * Restores a backup over `options.target` without ever leaving it half-done:
 * confirm → resolve and verify the backup (sha256 + `pg_restore --list`) → back up the current state →
 * restore into `<db>__pgshift_restore_<ts>` streamed from S3 (or, with `jobs`, from a local file) → terminate
 * other sessions and swap names in one transaction (`<db>` → `<db>__pgshift_before_<ts>`, copy → `<db>`). Any
 * failure before the swap leaves the original untouched and serving, and drops the half-restored copy.
 */
export async function restoreDatabase(deps: BackupDeps, options: RestoreOptions): Promise<RestoreResult> {
  const { target } = options;
  const database = options.database ?? target.database;
  const now = options.now ?? (() => new Date());
  const started = now();

  // 1. The prompt: nothing is read or written before the name is typed again.
  assertRestoreConfirmed(target.database, database, options.confirm);
  // 2. Which backup, whose it is, and whether this pg_restore can read it and it is intact.
  const manifest = await checkedBackup(deps, options, database);
  if (options.jobs !== undefined) await assertRestoreSpace(manifest, options.jobsDirectory);
  const maintenance = withDatabaseName(target, 'postgres');
  const shape = await withClient(
    maintenance,
    (c) => readDatabaseShape(c, target.database),
    'pgshift-restore',
  );
  const ts = timestampUtc(started);
  const plan: RestorePlan = {
    deps,
    options,
    target,
    database,
    manifest,
    maintenance,
    shape,
    restoreName: copyName(target.database, 'restore', ts),
    beforeName: copyName(target.database, 'before', ts),
    started,
    now,
    redact: (text) => redactSecrets(text, target),
  };
  // 3. The current state, so a wrong restore can itself be undone.
  const preRestore = await backUpCurrentState(plan);
  // 4. Restore into a new database; 5. the swap: the only moment other sessions are cut off.
  await createRestoreCopy(plan);
  await restoreIntoCopy(plan, preRestore);
  const terminated = await swapIn(plan, preRestore);
  const result = restoreResult(plan, preRestore, terminated);
  await recordRestore({
    plan,
    preRestore,
    status: 'succeeded',
    details: { previousDatabase: result.previousDatabase, terminatedConnections: terminated },
  });
  if (options.retentionDays !== undefined) {
    const { dropped } = await cleanupRestoreCopies(
      { log: deps.log },
      {
        target,
        olderThanDays: options.retentionDays,
        executionId: options.executionId,
        now,
        skipConfirm: true,
      },
    );
    result.droppedCopies = dropped;
  }
  return result;
}

/** The backup to restore: resolved, of this database (or allowed otherwise), readable by this pg_restore, intact. */
async function checkedBackup(
  deps: BackupDeps,
  options: RestoreOptions,
  database: string,
): Promise<BackupManifest> {
  const manifest = await resolveBackup(deps, database, options.backup, options.prefix);
  if (
    manifest.database !== database &&
    manifest.database !== options.target.database &&
    !options.allowOtherDatabase
  ) {
    throw new RestoreRefusedError(
      `Restore refused: backup ${manifest.key} is of database "${manifest.database}", not "${database}" ` +
        `(set allowOtherDatabase to restore it anyway)`,
      { details: { backupKey: manifest.key, backupDatabase: manifest.database, database } },
    );
  }
  assertToolNotOlder(
    'pg_restore',
    await pgToolVersion('pg_restore', deps.toolEnv),
    parsePgVersion(manifest.pgDumpVersion),
    `the pg_dump that wrote ${manifest.key}`,
  );
  try {
    await verifyBackup(deps, { key: manifest.key, manifest });
  } catch (err) {
    throw options.backup === 'latest' && err instanceof BackupCorruptError ? noFallback(err) : err;
  }
  deps.log.info('restore: backup verified', { database, backupKey: manifest.key });
  return manifest;
}

async function backUpCurrentState(plan: RestorePlan): Promise<BackupResult | null> {
  const { options } = plan;
  if (!plan.shape) {
    plan.deps.log.warn('restore: the database does not exist; nothing to back up', {
      database: plan.target.database,
    });
    return null;
  }
  return createBackup(plan.deps, {
    target: plan.target,
    database: plan.database,
    prefix: options.prefix,
    compression: options.compression,
    executionId: options.executionId,
    reason: 'before-restore',
  });
}

async function createRestoreCopy(plan: RestorePlan): Promise<void> {
  const { target, restoreName } = plan;
  try {
    await withClient(
      plan.maintenance,
      (c) => c.query(createDatabaseSql(restoreName, plan.shape)),
      'pgshift-restore',
    );
  } catch (err) {
    // Nothing was created: do not drop a database of that name that someone else owns.
    throw new RestoreFailedError(
      plan.redact(`Restore of "${target.database}" failed creating ${restoreName}: ${errorMessage(err)}`),
      { cause: err, details: { database: target.database, stage: 'creating the restore database' } },
    );
  }
}

/**
 * Streamed from S3 (one job), or with `jobs` downloaded first and restored in parallel. Either way the bytes
 * restored must be the manifest's (hashed as they pass) before the copy may be swapped in.
 */
async function restoreIntoCopy(plan: RestorePlan, preRestore: BackupResult | null): Promise<void> {
  const { deps, options, manifest, target, restoreName } = plan;
  const copy = withDatabaseName(target, restoreName);
  const toolOptions = {
    noOwner: options.noOwner,
    noPrivileges: options.noPrivileges,
    toolEnv: deps.toolEnv,
    onStarted: options.hooks?.onRestoreStarted,
  };
  try {
    const restored =
      options.jobs === undefined
        ? await pgRestoreFromStream(await getObjectStream(deps.store, manifest.key), copy, toolOptions)
        : await pgRestoreFromFile(deps.store, manifest, copy, {
            ...toolOptions,
            jobs: options.jobs,
            directory: options.jobsDirectory,
          });
    if (!restored.ok) throw new Error(restored.error);
    if (restored.sha256 !== manifest.sha256) {
      throw new Error(`the object changed since it was verified (sha256 ${restored.sha256})`);
    }
    if (options.analyze ?? true) {
      await withClient(copy, (c) => c.query('ANALYZE'), 'pgshift-restore');
    }
  } catch (err) {
    return failRestore(plan, preRestore, 'restoring into a new database', err);
  }
  deps.log.info('restore: copy restored', { database: target.database, restoreDatabase: restoreName });
}

async function swapIn(plan: RestorePlan, preRestore: BackupResult | null): Promise<number> {
  const { target, restoreName, shape, beforeName } = plan;
  let terminated: number;
  try {
    await plan.options.hooks?.beforeSwap?.({ restoreDatabase: restoreName });
    terminated = await swapDatabases(
      plan.maintenance,
      target.database,
      restoreName,
      shape ? beforeName : null,
    );
  } catch (err) {
    return failRestore(plan, preRestore, 'swapping the restored copy in', err);
  }
  plan.deps.log.info('restore: swapped', {
    database: target.database,
    previousDatabase: shape ? beforeName : null,
    terminatedConnections: terminated,
  });
  return terminated;
}

/** Drops the half-restored copy, records the failure and throws: the original is untouched and serving. */
async function failRestore(
  plan: RestorePlan,
  preRestore: BackupResult | null,
  stage: string,
  err: unknown,
): Promise<never> {
  const { target, manifest } = plan;
  await dropQuietly(plan.maintenance, plan.restoreName);
  const message = plan.redact(
    `Restore of "${target.database}" from ${manifest.key} failed while ${stage}: ${errorMessage(err)}. ` +
      `The original database is untouched and serving.`,
  );
  plan.deps.log.error('restore failed', { database: target.database, stage, error: message });
  if (plan.shape)
    await recordRestore({ plan, preRestore, status: 'failed', details: { stage }, error: message });
  throw new RestoreFailedError(message, {
    cause: err,
    details: { database: target.database, stage, backupKey: manifest.key, preRestoreBackup: preRestore?.key },
  });
}

function restoreResult(
  plan: RestorePlan,
  preRestore: BackupResult | null,
  terminated: number,
): RestoreResult {
  return {
    database: plan.target.database,
    backupKey: plan.manifest.key,
    backup: plan.manifest,
    preRestoreBackup: preRestore
      ? { key: preRestore.key, manifestKey: preRestore.manifestKey, sizeBytes: preRestore.manifest.sizeBytes }
      : null,
    previousDatabase: plan.shape ? plan.beforeName : null,
    terminatedConnections: terminated,
    durationMs: plan.now().getTime() - plan.started.getTime(),
    droppedCopies: [],
  };
}

/**
 * Terminates other sessions and renames in one transaction (ALTER DATABASE RENAME is transactional), so either
 * both names change or neither does. A session that reconnects in between makes RENAME fail with 55006; then
 * the transaction is rolled back and the whole step retried. Returns how many sessions were terminated.
 */
async function swapDatabases(
  maintenance: DatabaseTarget,
  database: string,
  restoreName: string,
  beforeName: string | null,
  attempts = 5,
): Promise<number> {
  return withClient(
    maintenance,
    async (c) => {
      let terminated = 0;
      for (let attempt = 1; ; attempt++) {
        await c.query('BEGIN');
        try {
          if (beforeName) {
            const res = await c.query<{ n: number }>(
              `SELECT count(*)::int AS n FROM (
                 SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = $1 AND pid <> pg_backend_pid()) t`,
              [database],
            );
            terminated += res.rows[0]?.n ?? 0;
            await c.query(`ALTER DATABASE ${quoteIdent(database)} RENAME TO ${quoteIdent(beforeName)}`);
          }
          await c.query(`ALTER DATABASE ${quoteIdent(restoreName)} RENAME TO ${quoteIdent(database)}`);
          await c.query('COMMIT');
          return terminated;
        } catch (err) {
          await c.query('ROLLBACK').catch(() => undefined);
          if (errorCode(err) !== OBJECT_IN_USE || attempt >= attempts) throw err;
        }
      }
    },
    'pgshift-restore',
  );
}

async function dropQuietly(maintenance: DatabaseTarget, name: string): Promise<void> {
  await withClient(
    maintenance,
    async (c) => {
      await c.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
        [name],
      );
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
    },
    'pgshift-restore',
  ).catch(() => undefined); // a leftover copy is visible to listRestoreCopies and dropped by cleanup
}

/** One history row of a restore, as it ended. */
interface RestoreRecord {
  plan: RestorePlan;
  preRestore: BackupResult | null;
  status: 'succeeded' | 'failed';
  details: Record<string, unknown>;
  error?: string;
}

/** History lives in the database itself: after a swap that is the restored one, after a failure the original. */
async function recordRestore({ plan, preRestore, status, details, error }: RestoreRecord): Promise<void> {
  const { target, options, manifest, started: startedAt } = plan;
  const finishedAt = plan.now();
  await withClient(
    target,
    async (c) => {
      await ensureHistoryTables(c);
      await recordHistoryEvent(c, {
        event: 'restore',
        status,
        executionId: options.executionId,
        name: manifest.key,
        checksum: manifest.sha256,
        startedAt,
        finishedAt,
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        error,
        details: {
          backupKey: manifest.key,
          backupFinishedAt: manifest.finishedAt,
          preRestoreBackup: preRestore?.key ?? null,
          requestedBy: options.requestedBy ?? options.executionId,
          ...details,
        },
      });
    },
    'pgshift-restore',
  ).catch((err: unknown) =>
    // The restore itself stands; only its history row is missing, which the log says.
    plan.deps.log.warn('restore not recorded in history', {
      database: target.database,
      error: errorMessage(err),
    }),
  );
}
