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
  }
}

/** A Subject SNS accepts: ASCII only, no line breaks, at most 100 characters. */
export function alertSubject(alert: Alert): string {
  const ascii = headline(alert)
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  return ascii.length <= SUBJECT_MAX ? ascii : `${ascii.slice(0, SUBJECT_MAX - 3)}...`;
}

/** What to do next, in the words of the error class (docs/errors.md). */
function nextSteps(alert: Alert): string[] {
  if (alert.kind === 'still-running') {
    return ['Check the execution: a step may be waiting on a lock or a large table rewrite.'];
  }
  if (alert.kind !== 'failure') return alert.reportUrl ? ['Read the report.'] : [];
  switch (alert.error?.name) {
    case 'PreflightFailedError':
      return ['Nothing was changed. Fix what the pre-flight checks name, then run again.'];
    case 'UnsafeMigrationError':
      return [
        'Nothing was changed. Make the migration safe, or rerun with allowUnsafe: true if it is intended.',
      ];
    case 'MigrationLockedError':
      return ['Nothing was changed. Another run holds the lock: wait for it to finish.'];
    case 'LockTimeoutError':
      return ['The migration was rolled back after waiting for a lock. Find the blocking session and retry.'];
    case 'MigrationFailedError':
      return [
        'The failing migration was rolled back; earlier ones in this run stay applied. Fix it and rerun.',
      ];
    case 'RestoreRefusedError':
    case 'BackupCorruptError':
      return ['Nothing was changed: the database still serves as before.'];
    case 'RestoreFailedError':
      return ['The original database is untouched and still serving.'];
    case 'InputValidationError':
      return ['Fix the execution input (docs/console-inputs.md) and start again.'];
    default:
      return ['Open the execution to see the failing state and its logs.'];
  }
}

function lines(alert: Alert): string[] {
  const out = [
    `Database: ${alert.database}`,
    `Action: ${alert.action}`,
    `Outcome: ${alert.kind === 'still-running' ? 'still running' : alert.kind}`,
    `${alert.kind === 'still-running' ? 'Running for' : 'Duration'}: ${formatDuration(alert.durationMs)}`,
  ];
  if (alert.failedStep) out.push(`Failed in step: ${alert.failedStep}`);
  if (alert.error) out.push(`Error: ${alert.error.name}: ${alert.error.message}`);
  out.push(...alert.facts);
  return out;
}

/** Plain text for email subscribers. */
export function renderEmail(alert: Alert): string {
  const parts = [headline(alert), '', ...lines(alert)];
  if (alert.warnings.length > 0) parts.push('', 'Warnings:', ...alert.warnings.map((w) => `- ${w}`));
  const next = nextSteps(alert);
  if (next.length > 0) parts.push('', 'Next:', ...next.map((n) => `- ${n}`));
  parts.push('', `Execution: ${alert.executionId}`);
  if (alert.consoleUrl) parts.push(`Console: ${alert.consoleUrl}`);
  if (alert.reportUrl) parts.push(`Report: ${alert.reportUrl}`);
  return parts.join('\n');
}

/** AWS Chatbot's custom notification schema (version 1.0, source "custom"), rendered in Slack. */
export function renderChatbot(alert: Alert): Record<string, unknown> {
  const icon =
    alert.kind === 'success' ? ':white_check_mark:' : alert.kind === 'failure' ? ':x:' : ':hourglass:';
  const description = [...lines(alert), ...alert.warnings.map((w) => `:warning: ${w}`)]
    .map((l) => `• ${l}`)
    .join('\n');
  const links: string[] = [];
  if (alert.consoleUrl) links.push(`<${alert.consoleUrl}|Execution>`);
  if (alert.reportUrl) links.push(`<${alert.reportUrl}|Report>`);
  return {
    version: '1.0',
    source: 'custom',
    content: {
      textType: 'client-markdown',
      title: `${icon} ${headline(alert)}`,
      description: links.length > 0 ? `${description}\n${links.join(' · ')}` : description,
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
 * One SNS message for every subscriber kind (`MessageStructure: json`): email gets the plain text, everything
 * else (Chatbot over HTTPS, SQS, Lambda) gets the Chatbot JSON, which is also machine-readable.
 */
export function renderSnsMessage(alert: Alert): {
  Subject: string;
  Message: string;
  MessageStructure: 'json';
} {
  const chatbot = JSON.stringify(renderChatbot(alert));
  return {
    Subject: alertSubject(alert),
    MessageStructure: 'json',
    Message: JSON.stringify({ default: chatbot, email: renderEmail(alert), 'email-json': chatbot }),
  };
}
