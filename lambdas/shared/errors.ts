/**
 * pgshift's typed errors. A Lambda's thrown error `name` is what the state machine's Retry/Catch `ErrorEquals`
 * matches, and what the CLI maps to an exit code: keep names stable and listed in docs/errors.md.
 */

/** How the CLI and the workflow treat an error: 1 failed, 2 bad input, 3 refused (see docs/cli.md). */
export type ErrorOutcome = 'failed' | 'bad-input' | 'refused';

export interface PgshiftErrorOptions {
  cause?: unknown;
  /** Context that helps the reader act: migration file, statement, SQLSTATE, pid, versions... */
  details?: Record<string, unknown>;
}

export class PgshiftError extends Error {
  /**
   * Each class writes its name as a literal: esbuild bundles the Lambdas and a minifier renames classes, so a name
   * taken from `new.target.name` could change silently and no Retry/Catch would match it again.
   */
  override name: string = 'PgshiftError';
  readonly outcome: ErrorOutcome = 'failed';
  readonly details: Record<string, unknown>;

  constructor(message: string, options: PgshiftErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.details = options.details ?? {};
  }

  /** The JSON a step returns or the CLI prints with --json; never includes secrets (callers redact messages). */
  toJSON(): { name: string; message: string; outcome: ErrorOutcome; details: Record<string, unknown> } {
    return { name: this.name, message: this.message, outcome: this.outcome, details: this.details };
  }
}

/** Execution input or CLI flags are wrong; `problems` lists every one of them, not just the first. */
export class InputValidationError extends PgshiftError {
  override readonly name = 'InputValidationError';
  override readonly outcome = 'bad-input';
  constructor(
    readonly problems: string[],
    options: PgshiftErrorOptions = {},
  ) {
    super(`Invalid input: ${problems.join('; ')}`, { ...options, details: { ...options.details, problems } });
  }
}

/** Required configuration is missing or unusable (an env var, a secret, a secret's field). */
export class ConfigurationError extends PgshiftError {
  override readonly name = 'ConfigurationError';
  override readonly outcome = 'bad-input';
}

/** The database could not be reached or refused the login (wrong password, missing database, TLS failure). */
export class DatabaseConnectionError extends PgshiftError {
  override readonly name = 'DatabaseConnectionError';
}

/** A pre-flight check failed: the database cannot take the migration right now. Nothing was written. */
export class PreflightFailedError extends PgshiftError {
  override readonly name = 'PreflightFailedError';
  override readonly outcome = 'refused';
}

/** pg_dump failed, was killed, or the upload failed; no complete-looking object or manifest was left. */
export class DumpFailedError extends PgshiftError {
  override readonly name = 'DumpFailedError';
}

/**
 * Another backup wrote the key this one was completing (two backups of one database in the same second): S3
 * refused the create-only write (If-None-Match: *), nothing was overwritten, and this backup's upload was
 * removed. Running again takes the next free name.
 */
export class BackupKeyTakenError extends PgshiftError {
  override readonly name = 'BackupKeyTakenError';
}

/** A client tool (pg_dump, pg_restore) is older than the server it must talk to. */
export class PgVersionMismatchError extends PgshiftError {
  override readonly name = 'PgVersionMismatchError';
}

/** No backup matches the request (named key missing, or no complete backup for `latest`). */
export class BackupNotFoundError extends PgshiftError {
  override readonly name = 'BackupNotFoundError';
  override readonly outcome = 'bad-input';
}

/** A backup failed its integrity checks (sha256, size, pg_restore --list) or belongs to another database. */
export class BackupCorruptError extends PgshiftError {
  override readonly name = 'BackupCorruptError';
  override readonly outcome = 'refused';
}

/** The migrations folder is malformed (duplicate versions, a down without an up, unreadable file...). */
export class MigrationFileError extends PgshiftError {
  override readonly name = 'MigrationFileError';
  override readonly outcome = 'bad-input';
}

/** The linter found error-level problems and the input did not say allowUnsafe. */
export class UnsafeMigrationError extends PgshiftError {
  override readonly name = 'UnsafeMigrationError';
  override readonly outcome = 'refused';
}

/** A migration failed and was rolled back; details name the file, statement, SQLSTATE and position. */
export class MigrationFailedError extends PgshiftError {
  override readonly name = 'MigrationFailedError';
}

/** Another run holds pgshift's advisory lock for this database. */
export class MigrationLockedError extends PgshiftError {
  override readonly name = 'MigrationLockedError';
  override readonly outcome = 'refused';
}

/** A statement waited longer than lock_timeout for its lock; safe to retry with backoff. */
export class LockTimeoutError extends PgshiftError {
  override readonly name = 'LockTimeoutError';
}

/**
 * A statement of a no-transaction migration hit lock_timeout after earlier statements had run (and stayed):
 * never retried, since a retry would re-run them. details.ran lists them.
 */
export class PartialMigrationError extends PgshiftError {
  override readonly name = 'PartialMigrationError';
}

/**
 * Apply refused to re-run a no-transaction migration whose earlier run was interrupted (its client died): which
 * of its statements ran is unknown and some that may have are not idempotent. Nothing was applied by this run.
 * details.mayHaveRun lists them, details.interrupted names the execution and when it started.
 */
export class InterruptedMigrationError extends PgshiftError {
  override readonly name = 'InterruptedMigrationError';
  override readonly outcome = 'refused';
}

/**
 * The runner stopped between migrations because the next one's estimate (plus a margin) does not fit the time
 * its runner has left (Lambda's remaining time). What ran stays applied and recorded; details.applied and
 * details.pending name both sides. The state machine continues the pending ones on Fargate.
 */
export class MigrationTimeBudgetError extends PgshiftError {
  override readonly name = 'MigrationTimeBudgetError';
}

/** verify found drift, a checksum mismatch, or applied versions without files. */
export class DriftDetectedError extends PgshiftError {
  override readonly name = 'DriftDetectedError';
  override readonly outcome = 'refused';
}

/** Restore refused before touching anything (missing/wrong confirm, foreign backup...). */
export class RestoreRefusedError extends PgshiftError {
  override readonly name = 'RestoreRefusedError';
  override readonly outcome = 'refused';
}

/** Restore failed; the original database is untouched and still serving (details say where things are). */
export class RestoreFailedError extends PgshiftError {
  override readonly name = 'RestoreFailedError';
}

/**
 * A parallel restore (`restoreJobs`) found too little free space where the dump would be downloaded (the dump's
 * size plus a margin); checked before anything is written, so the database is untouched.
 */
export class RestoreSpaceError extends PgshiftError {
  override readonly name = 'RestoreSpaceError';
  override readonly outcome = 'refused';
}

/** A Fargate task ended without leaving its result in S3 (it crashed before writing it). */
export class TaskResultMissingError extends PgshiftError {
  override readonly name = 'TaskResultMissingError';
}

/**
 * The report could not be built or written. After a backup, migrate or restore that succeeded this is a
 * warning of a successful run (the workflow catches it); only `action: report` fails on it.
 */
export class ReportFailedError extends PgshiftError {
  override readonly name = 'ReportFailedError';
}

/**
 * A migrations bundle (`bundles/<sha256>.json`) does not hash to the sha256 the execution input names, or its
 * key does not name that hash: it was changed after `pgshift bundle` packed it. Nothing was run.
 */
export class MigrationBundleMismatchError extends PgshiftError {
  override readonly name = 'MigrationBundleMismatchError';
  override readonly outcome = 'refused';
}

/** The execution input names a migrations bundle that is not in the bucket, or is not a pgshift bundle. */
export class MigrationBundleNotFoundError extends PgshiftError {
  override readonly name = 'MigrationBundleNotFoundError';
  override readonly outcome = 'bad-input';
}

/**
 * A step's output cannot be made to fit the workflow state's byte budget (lambdas/shared/step-budget.ts): even
 * with every large field moved to S3, what must stay in the state (ok, keys, routing fields) is over it. The
 * step's own work finished; its complete output is in S3 when `details.key` says so.
 */
export class StepOutputTooLargeError extends PgshiftError {
  override readonly name = 'StepOutputTooLargeError';
}

/** A step output moved to S3 (`spilled.key`) is missing or no longer matches its recorded size and sha256. */
export class SpilledOutputUnreadableError extends PgshiftError {
  override readonly name = 'SpilledOutputUnreadableError';
}

/**
 * A step's result, as the state machine (or a spilled output in S3) handed it back, does not match that step's
 * output schema (lambdas/shared/step-outputs.ts): names the result and the field.
 */
export class StepResultInvalidError extends PgshiftError {
  override readonly name = 'StepResultInvalidError';
}

/**
 * The CLI fetched a dry run's SQL from S3 and its bytes do not hash to the sha256 the execution output recorded:
 * the object changed after the migrate step wrote it. Raised by the CLI only (the state machine never sees it).
 */
export class PlanSqlMismatchError extends PgshiftError {
  override readonly name = 'PlanSqlMismatchError';
  override readonly outcome = 'refused';
}

/** Every error name the state machine may match, for docs and for the infra tests that check Retry/Catch. */
export const ERROR_NAMES = [
  'InputValidationError',
  'ConfigurationError',
  'DatabaseConnectionError',
  'PreflightFailedError',
  'DumpFailedError',
  'BackupKeyTakenError',
  'PgVersionMismatchError',
  'BackupNotFoundError',
  'BackupCorruptError',
  'MigrationFileError',
  'UnsafeMigrationError',
  'MigrationFailedError',
  'MigrationLockedError',
  'LockTimeoutError',
  'PartialMigrationError',
  'MigrationTimeBudgetError',
  'InterruptedMigrationError',
  'DriftDetectedError',
  'RestoreRefusedError',
  'RestoreFailedError',
  'RestoreSpaceError',
  'TaskResultMissingError',
  'ReportFailedError',
  'MigrationBundleMismatchError',
  'MigrationBundleNotFoundError',
  'StepOutputTooLargeError',
  'SpilledOutputUnreadableError',
  'StepResultInvalidError',
] as const;
export type PgshiftErrorName = (typeof ERROR_NAMES)[number];

/** Maps any thrown value to a JSON-safe summary for step outputs and alerts. */
export function describeError(err: unknown): { name: string; message: string; outcome: ErrorOutcome } {
  if (err instanceof PgshiftError) return { name: err.name, message: err.message, outcome: err.outcome };
  if (err instanceof Error) return { name: err.name, message: err.message, outcome: 'failed' };
  return { name: 'Error', message: String(err), outcome: 'failed' };
}

/** What a thrown value says: an Error's message, or the value itself as text when something else was thrown. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    return err.message;
  }
  return String(err);
}

/** A thrown value's `code` when it is text: Node's errno code (ENOENT) or PostgreSQL's SQLSTATE (57014). */
export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

/** A thrown value's `name` (an AWS SDK error's is its exception type), or "Error" when it has none. */
export function errorName(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'name' in err && typeof err.name === 'string')
    return err.name;
  return 'Error';
}
