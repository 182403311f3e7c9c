import type { Alert } from './alert';

/** SNS caps an email Subject at 100 characters of printable ASCII. */
const SUBJECT_MAX = 100;

function formatDuration(ms: number | undefined): string {
  if (ms === undefined) return 'unknown';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}

function headline(alert: Alert): string {
  switch (alert.kind) {
    case 'success':
      return `pgshift ${alert.action} succeeded on ${alert.database}`;
    case 'failure':
      return `pgshift ${alert.action} FAILED on ${alert.database}`;
    case 'still-running':
      return `pgshift ${alert.action} still running on ${alert.database}`;
    case 'timed-out':
      return `pgshift ${alert.action} TIMED OUT on ${alert.database}`;
    case 'aborted':
      return `pgshift ${alert.action} ABORTED on ${alert.database}`;
  }
}

/** A Subject SNS accepts: ASCII only, no line breaks, at most 100 characters. */
export function alertSubject(alert: Alert): string {
  const ascii = headline(alert)
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 3)}...`;
}

/** Steps that run before anything is applied: a failure there leaves the database as it was. */
const BEFORE_CHANGES = new Set([
  'validate',
  'plan',
  'preflight',
  'backup',
  'snapshotBefore',
  'verify',
  'drift',
]);
/** Errors after which the database is as it was before the run (docs/errors.md). */
const UNCHANGED_ERRORS = new Set([
  'InputValidationError',
  'PreflightFailedError',
  'UnsafeMigrationError',
  'MigrationLockedError',
  'RestoreRefusedError',
  'BackupCorruptError',
  'DumpFailedError',
  'DriftDetectedError',
]);

/** What happened, in one line. */
export function whatHappened(alert: Alert): string {
  const ran = formatDuration(alert.durationMs);
  switch (alert.kind) {
    case 'success':
      return `Succeeded${alert.dryRun ? ' (dry run)' : ''}.`;
    case 'still-running':
      return `Still running after ${ran}: longer than the duration warning.`;
    case 'timed-out':
      return `Timed out after ${ran}: the execution exceeded the state machine's timeout and was stopped.`;
    case 'aborted':
      return `Aborted after ${ran}: the execution was stopped (StopExecution, the console or a redrive).`;
    case 'failure': {
      const error = alert.error ? `${alert.error.name}: ${alert.error.message}` : 'unknown error';
      return alert.failedStep ? `Failed in step ${alert.failedStep}: ${error}` : `Failed: ${error}`;
    }
  }
}

/** What state the database is in now, as far as this run can tell. */
export function stateNow(alert: Alert): string {
  const applied =
    alert.appliedCount !== undefined
      ? `${alert.appliedCount} migration(s) applied`
      : 'the migrations applied';
  switch (alert.kind) {
    case 'success':
      if (alert.dryRun) return 'Unchanged: this was a dry run.';
      if (['migrate', 'downgrade', 'baseline'].includes(alert.action))
        return `Changed as planned: ${applied}.`;
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
    case 'failure': {
      const name = alert.error?.name ?? '';
      if (alert.dryRun || UNCHANGED_ERRORS.has(name)) return 'Unchanged: nothing was applied.';
      if (name === 'MigrationFailedError' || name === 'LockTimeoutError') {
        return 'The failing migration was rolled back; migrations before it in this run stay applied.';
      }
      if (name === 'RestoreFailedError') return 'The original database is untouched and still serving.';
      if (alert.failedStep && BEFORE_CHANGES.has(alert.failedStep)) {
        return 'Unchanged: the run stopped before applying anything.';
      }
      if (alert.appliedCount !== undefined) return `Changed: ${applied}; only the later steps are missing.`;
      return 'Unknown: run `pgshift start verify` to compare what is applied with what was recorded.';
    }
  }
}

/** What to do next, in the words of the error class (docs/errors.md). */
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
  switch (alert.error?.name) {
    case 'PreflightFailedError':
      return ['Fix what the pre-flight checks name (results.preflight), then run again.'];
    case 'UnsafeMigrationError':
      return ['Make the migration safe, or rerun with allowUnsafe: true if it is intended.'];
    case 'MigrationLockedError':
      return ['Another run holds the migration lock: wait for it to finish, then run again.'];
    case 'LockTimeoutError':
      return ['Find the session that holds the table lock (pg_locks, pg_stat_activity), then run again.'];
    case 'MigrationFailedError':
      return ['Fix the failing migration (its name and statement are in the error), then run again.'];
    case 'RestoreRefusedError':
      return ['Read the refusal: pass the confirmation (or another backup) and run again.'];
    case 'BackupCorruptError':
      return ['Take a new backup, or restore another one: this one does not match its manifest.'];
    case 'DumpFailedError':
      return ['Fix what the backup error names (pg_dump version, permissions, disk), then run again.'];
    case 'RestoreFailedError':
      return ['Read the error; the scratch database was dropped, so the restore can be run again.'];
    case 'InputValidationError':
      return ['Fix the execution input (docs/console-inputs.md) and start again.'];
    default:
      if (alert.failedStep === 'report' && alert.appliedCount !== undefined) {
        return ['The migrations are applied: write the report again with `pgshift start report`.'];
      }
      return ['Open the execution to see the failing state and its logs, then run `pgshift start verify`.'];
  }
}

/** Facts and warnings beyond the four headline lines. */
function details(alert: Alert): string[] {
  return [...alert.facts, ...alert.warnings.map((w) => `Warning: ${w}`)];
}

function links(alert: Alert): { label: string; url: string }[] {
  const out: { label: string; url: string }[] = [];
  if (alert.consoleUrl) out.push({ label: 'Execution', url: alert.consoleUrl });
  if (alert.reportUrl) out.push({ label: 'Report', url: alert.reportUrl });
  if (alert.backupUrl) out.push({ label: 'Backup', url: alert.backupUrl });
  return out;
}

function whatRan(alert: Alert): string {
  const started = alert.startedAt ? `, started ${alert.startedAt}` : '';
  const ran = alert.durationMs !== undefined ? `, ran ${formatDuration(alert.durationMs)}` : '';
  return `pgshift ${alert.action}${alert.dryRun ? ' (dry run)' : ''}, execution ${alert.executionId}${started}${ran}`;
}

/** Plain text for email subscribers: what ran, database, what happened, state now, what to do, links. */
export function renderEmail(alert: Alert): string {
  const parts = [
    headline(alert),
    '',
    `What ran: ${whatRan(alert)}`,
    `Database: ${alert.database}`,
    `What happened: ${whatHappened(alert)}`,
    `State of the database now: ${stateNow(alert)}`,
    '',
    'What to do:',
    ...nextSteps(alert).map((n) => `- ${n}`),
  ];
  const more = details(alert);
  if (more.length > 0) parts.push('', 'Details:', ...more.map((d) => `- ${d}`));
  const found = links(alert);
  parts.push('', 'Links:', ...found.map((l) => `${l.label}: ${l.url}`));
  if (!alert.consoleUrl) parts.push(`Execution: ${alert.executionId}`);
  if (alert.backupKey && !alert.backupUrl) parts.push(`Backup: ${alert.backupKey}`);
  return parts.join('\n');
}

const ICONS: Record<Alert['kind'], string> = {
  success: ':white_check_mark:',
  failure: ':x:',
  'still-running': ':hourglass:',
  'timed-out': ':alarm_clock:',
  aborted: ':octagonal_sign:',
};

/** Amazon Q Developer in chat applications (AWS Chatbot) custom notification, version 1.0, source "custom". */
export function renderChatbot(alert: Alert): Record<string, unknown> {
  const description = [
    `*What ran:* ${whatRan(alert)}`,
    `*Database:* ${alert.database}`,
    `*What happened:* ${whatHappened(alert)}`,
    `*State now:* ${stateNow(alert)}`,
    ...details(alert).map((d) => `• ${d}`),
  ];
  const found = links(alert);
  if (found.length > 0) description.push(found.map((l) => `<${l.url}|${l.label}>`).join(' · '));
  return {
    version: '1.0',
    source: 'custom',
    id: `${alert.executionId}#${alert.kind}`,
    content: {
      textType: 'client-markdown',
      title: `${ICONS[alert.kind]} ${headline(alert)}`,
      description: description.join('\n'),
      nextSteps: nextSteps(alert),
      keywords: ['pgshift', alert.database, alert.action, alert.kind],
    },
    metadata: {
      summary: headline(alert),
      eventType: `pgshift.${alert.kind}`,
      additionalContext: { executionId: alert.executionId, database: alert.database, action: alert.action },
    },
  };
}

/**
 * One SNS message with a document per protocol (`MessageStructure: json`): email (and `default`: SQS,
 * Lambda) get the plain text; `https` — how AWS Chatbot subscribes — and `email-json` get the Chatbot
 * custom-notification JSON.
 */
export function renderSnsMessage(alert: Alert): {
  Subject: string;
  Message: string;
  MessageStructure: 'json';
} {
  const chatbot = JSON.stringify(renderChatbot(alert));
  const email = renderEmail(alert);
  return {
    Subject: alertSubject(alert),
    MessageStructure: 'json',
    Message: JSON.stringify({ default: email, email, https: chatbot, 'email-json': chatbot }),
  };
}
