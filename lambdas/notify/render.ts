import type { Alert } from './alert';
import { CHATBOT_LIMITS, clip, fitDescription, fitNextSteps } from './chatbot-fit';
import { nextSteps, stateNow } from './guidance';

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

/**
 * Amazon Q Developer in chat applications (AWS Chatbot) custom notification, version 1.0, source "custom",
 * within Slack's lengths (chatbot-fit.ts): what to do and the links always stay.
 */
export function renderChatbot(alert: Alert): Record<string, unknown> {
  const description = fitDescription({
    head: [
      `*What ran:* ${whatRan(alert)}`,
      `*Database:* ${alert.database}`,
      `*What happened:* ${whatHappened(alert)}`,
      `*State now:* ${stateNow(alert)}`,
    ],
    // The error message is what grows (a statement, pg_dump's stderr); then the execution ARN's line.
    shrinkFirst: [2, 0, 3],
    details: details(alert).map((d) => `• ${d}`),
    links: links(alert).map((l) => `<${l.url}|${l.label}>`),
  });
  return {
    version: '1.0',
    source: 'custom',
    id: `${alert.executionId}#${alert.kind}`,
    content: {
      textType: 'client-markdown',
      title: clip(`${ICONS[alert.kind]} ${headline(alert)}`, CHATBOT_LIMITS.title),
      description,
      nextSteps: fitNextSteps(nextSteps(alert)),
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
