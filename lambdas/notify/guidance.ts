import type { Alert } from './alert';

/**
 * What an alert says about the database now and what to do: the two lines a person acts on at 3 a.m.
 * The state after a failure depends on the step that failed before the error's name: a LockTimeoutError in
 * pre-flight changed nothing, one in apply rolled back the migration it was running (docs/alerts.md).
 */

const UNCHANGED = 'Unchanged: nothing was applied';

/** Steps that only read the database (or write to S3): a failure there leaves it as it was. */
const READ_ONLY_STEP_STATE: Record<string, string> = {
  validate: `${UNCHANGED}; the input was refused before any step ran.`,
  plan: `${UNCHANGED}; the run stopped while planning, before pre-flight and the backup.`,
  lint: `${UNCHANGED}; the lint refused the migrations before the backup.`,
  preflight: `${UNCHANGED}; pre-flight only reads the database.`,
  backup:
    `${UNCHANGED}. No backup was written: any partial upload was aborted and has no manifest, ` +
    'so `latest` still names the previous backup.',
  snapshotBefore: `${UNCHANGED}; this run's backup is complete in S3.`,
  verify: `${UNCHANGED}; verify only reads the database.`,
  drift: `${UNCHANGED}; drift detection only reads the database.`,
  report: 'Unchanged: the report only reads the database; nothing was written to it.',
};

function appliedText(alert: Alert): string {
  return alert.appliedCount !== undefined
    ? `${alert.appliedCount} migration(s) applied`
    : 'the migrations applied';
}

/** A failure in the migrate step, by action: apply, downgrade and baseline leave different things behind. */
function afterMigrateStepFailure(alert: Alert, name: string): string {
  if (name === 'MigrationLockedError') return `${UNCHANGED}; another run holds the migration lock.`;
  if (name === 'PartialMigrationError') {
    return (
      'Partly changed: the no-transaction migration stopped at a lock timeout; its statements that ran stay ' +
      '(the error lists them) and it is recorded as failed. Migrations before it in this run stay applied.'
    );
  }
  if (name === 'InterruptedMigrationError') {
    return (
      'Unchanged by this run: it refused before applying anything. An earlier run died during a no-transaction ' +
      'migration (the error names its execution); which of its statements ran is unknown, and those that ran stay.'
    );
  }
  if (name === 'MigrationTimeBudgetError') {
    return 'Partly applied: the run stopped between migrations for lack of time; those applied stay recorded, the rest are pending (named in the error).';
  }
  // The refusal before a migration whose earlier run left an INVALID index: nothing of it ran this time.
  if (name === 'MigrationFailedError' && /left INVALID index/.test(alert.error?.message ?? '')) {
    return 'Refused before running it: an earlier run of this migration left an INVALID index (named in the error); migrations before it in this run stay applied.';
  }
  if (name === 'MigrationFailedError' || name === 'LockTimeoutError') {
    return alert.action === 'downgrade'
      ? 'The failing down-migration was rolled back; down-migrations before it in this run stay reverted.'
      : 'The failing migration was rolled back; migrations before it in this run stay applied.';
  }
  return 'Unknown: the step stopped mid-way; run `pgshift start verify` to compare what is applied with what was recorded.';
}

function afterRestoreStepFailure(alert: Alert, name: string): string {
  if (alert.action === 'cleanup') {
    return 'The database is untouched; some restore copies may remain (run cleanup again).';
  }
  switch (name) {
    case 'RestoreRefusedError':
      return 'Unchanged: the restore was refused before touching anything.';
    case 'BackupNotFoundError':
    case 'BackupCorruptError':
      return 'Unchanged: the backup was refused before anything was restored.';
    case 'RestoreFailedError':
      return 'The original database is untouched and still serving.';
    default:
      return (
        'Unknown: the restore stopped mid-way. Until the swap the original database keeps serving; ' +
        'check which database has the name, then run `pgshift start cleanup`.'
      );
  }
}

function afterFailure(alert: Alert): string {
  const name = alert.error?.name ?? '';
  const step = alert.failedStep;
  if (alert.dryRun) return `${UNCHANGED}: this was a dry run.`;
  if (step && READ_ONLY_STEP_STATE[step]) return READ_ONLY_STEP_STATE[step];
  if (step === 'migrate') return afterMigrateStepFailure(alert, name);
  if (step === 'restore') return afterRestoreStepFailure(alert, name);
  if (step && alert.appliedCount !== undefined) {
    return `Changed: ${appliedText(alert)}; only the later steps (${step} on) are missing.`;
  }
  return 'Unknown: run `pgshift start verify` to compare what is applied with what was recorded.';
}

/** What state the database is in now, as far as this run can tell. */
export function stateNow(alert: Alert): string {
  switch (alert.kind) {
    case 'success':
      if (alert.dryRun) return 'Unchanged: this was a dry run.';
      if (['migrate', 'downgrade', 'baseline'].includes(alert.action))
        return `Changed as planned: ${appliedText(alert)}.`;
      if (alert.action === 'restore') return 'Restored from the backup; the previous database is kept.';
      return 'Unchanged: this action only reads the database (or writes to S3).';
    case 'still-running':
      return 'In progress: nothing has failed so far; a step may be waiting on a lock or rewriting a table.';
    case 'timed-out':
    case 'aborted':
      return (
        'Unknown until checked: the execution stopped mid-step. A migration in progress is rolled back when ' +
        'its session ends; migrations completed before it stay applied; backups already written stay in S3.'
      );
    case 'failure':
      return afterFailure(alert);
  }
}

/** What to do after a failure, in the words of the error class (docs/errors.md). */
const NEXT_BY_ERROR: Record<string, string> = {
  PreflightFailedError: 'Fix what the pre-flight checks name (results.preflight), then run again.',
  UnsafeMigrationError: 'Make the migration safe, or rerun with allowUnsafe: true if it is intended.',
  MigrationLockedError: 'Another run holds the migration lock: wait for it to finish, then run again.',
  LockTimeoutError:
    'Find the session that holds the table lock (pg_locks, pg_stat_activity), then run again.',
  PartialMigrationError:
    'Do not rerun it as is: make its statements idempotent (IF NOT EXISTS) or move those that ran into an applied migration.',
  InterruptedMigrationError:
    'Check what the statements the error lists did, make them idempotent (IF NOT EXISTS / IF EXISTS) or remove those that ran, then run again.',
  MigrationFailedError:
    'Fix the failing migration (its name and statement are in the error), then run again.',
  MigrationFileError: 'Fix the migrations folder (the error names the file and line), then run again.',
  RestoreRefusedError: 'Read the refusal: pass the confirmation (or another backup) and run again.',
  BackupNotFoundError: 'Name a backup that exists (`pgshift backups`), or take one, then run again.',
  BackupCorruptError: 'Take a new backup, or restore another one: this one does not match its manifest.',
  DumpFailedError: 'Fix what the backup error names (pg_dump version, permissions, S3), then run again.',
  BackupKeyTakenError:
    'Nothing was overwritten: another backup of this database finished in the same second. Run the backup again (it takes the next free name), and check what else backs this database up.',
  PgVersionMismatchError:
    'Use pg tools at least as new as the server (the error names both), then run again.',
  RestoreFailedError: 'Read the error; the scratch database was dropped, so the restore can be run again.',
  RestoreSpaceError:
    "Nothing was touched: raise the Fargate task's ephemeral storage (cdk.json context pgshift.fargate.ephemeralStorageGiB, up to 200 GiB, then deploy) or restore without restoreJobs (streamed), then run again.",
  DriftDetectedError: 'Compare results.verify and results.drift with the migrations, then reconcile.',
  ReportFailedError:
    'Fix what the report error names (PostgreSQL or S3), then run `pgshift start report` again.',
  DatabaseConnectionError: 'Check that the database is reachable and the secret is current, then run again.',
  ConfigurationError:
    'Fix the configuration the error names (environment, secret or CA bundle), then deploy.',
  InputValidationError: 'Fix the execution input (docs/console-inputs.md) and start again.',
  MigrationBundleMismatchError: 'Pack the migrations again (`pgshift start migrate --migrations DIR`).',
  MigrationBundleNotFoundError: 'Upload the bundle again (`pgshift start migrate --migrations DIR`).',
  MigrationTimeBudgetError:
    'Run again with runner: "fargate" (the pending migrations are named in the error); those applied stay applied.',
  TaskResultMissingError:
    "Read the Fargate task's log (its stopped reason and last lines), then run `pgshift start verify` before rerunning.",
  StepOutputTooLargeError:
    'A pgshift defect: report it with the execution; run `pgshift start verify` to see what is applied before rerunning.',
  SpilledOutputUnreadableError:
    "Check the bucket's lifecycle and who changed runs/ (the error names the key), then run again.",
  StepResultInvalidError:
    'A pgshift defect (a step returned what its contract does not allow): report it with the execution; run `pgshift start verify` before rerunning.',
  PlanSqlMismatchError:
    "The dry run's SQL in S3 changed after the run wrote it: find who wrote plans/, then run the dry run again.",
  'Sandbox.Timedout':
    'The function ran out of time: run `pgshift start verify`, then rerun with runner: "fargate".',
  'Runtime.ExitError':
    'The function crashed (often out of memory): read its log, run `pgshift start verify`, then rerun.',
  'Runtime.ImportModuleError': 'A packaging defect: redeploy (`npx cdk deploy`) and run again.',
  'Runtime.HandlerNotFound': 'A packaging defect: redeploy (`npx cdk deploy`) and run again.',
  'States.TaskFailed':
    "Read the Fargate task's log for its error, run `pgshift start verify`, then run again.",
  'States.DataLimitExceeded':
    'A pgshift defect (a state over 256 KB): report it with the execution; run `pgshift start verify` before rerunning.',
};

/** What to do next: the first line is the one Slack shows first (nextSteps[0]). */
export function nextSteps(alert: Alert): string[] {
  switch (alert.kind) {
    case 'success':
      return [alert.reportUrl ? 'Nothing urgent: read the report.' : 'Nothing to do.'];
    case 'still-running':
      return [
        'Open the execution: find the running state, then pg_stat_activity for a blocked or long statement.',
      ];
    case 'timed-out':
      return [
        'Run `pgshift start verify` to see which migrations are applied, then rerun or raise executionTimeoutMinutes.',
      ];
    case 'aborted':
      return ['Run `pgshift start verify` to see which migrations are applied before starting again.'];
    case 'failure':
      break;
  }
  const known = NEXT_BY_ERROR[alert.error?.name ?? ''];
  if (known) return [known];
  if (alert.failedStep === 'report' && alert.appliedCount !== undefined) {
    return ['The migrations are applied: write the report again with `pgshift start report`.'];
  }
  return ['Open the execution to see the failing state and its logs, then run `pgshift start verify`.'];
}
