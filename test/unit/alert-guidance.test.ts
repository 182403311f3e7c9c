/**
 * What an alert says the database is in now is chosen by the step that failed, then the error: a
 * LockTimeoutError in pre-flight changed nothing, one in apply rolled a migration back. And the Chatbot form
 * stays within Slack's lengths while keeping what to do and the links.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import {
  alertFromEvent,
  CHATBOT_LIMITS,
  clip,
  fitDescription,
  renderChatbot,
  renderEmail,
  nextSteps,
  stateNow,
} from '../../lambdas/notify';
import type { Action } from '../../lambdas/shared/input';
import type { StepEvent, StepResults } from '../../lambdas/shared/step';
import { chatbotNotification } from '../helpers/alert-shape';

const executionArn = 'arn:aws:states:eu-west-1:123456789012:execution:pgshift:run-1';

function failure(
  action: Action,
  results: StepResults,
  error: string,
  cause = `${error} happened`,
  extra: Partial<StepEvent['input']> = {},
) {
  return alertFromEvent('failure', {
    input: { action, database: 'shop', ...extra },
    execution: { id: executionArn, name: 'run-1', startTime: '2026-11-25T10:00:00.000Z' },
    results,
    error: { Error: error, Cause: cause },
  });
}

const ok = (step: string) => ({ step, ok: true });
const planned = { plan: ok('plan'), preflight: { ...ok('preflight'), checks: [] } };
const backedUp = { ...planned, backup: { ...ok('backup'), key: 'backups/shop/2026/11/25/x.dump' } };
const snapshotted = { ...backedUp, snapshotBefore: ok('schema') };

describe('the state line follows the step that failed', () => {
  test.each([
    [
      'LockTimeoutError in pre-flight: nothing changed (not "rolled back")',
      failure('migrate', { plan: ok('plan') }, 'LockTimeoutError'),
      'preflight',
      'Unchanged: nothing was applied; pre-flight only reads the database.',
    ],
    [
      'LockTimeoutError while planning: nothing changed',
      failure('migrate', {}, 'LockTimeoutError'),
      'plan',
      'Unchanged: nothing was applied; the run stopped while planning, before pre-flight and the backup.',
    ],
    [
      'a refused pre-flight is the pre-flight step, not the backup after it',
      failure(
        'migrate',
        { plan: ok('plan'), preflight: { step: 'preflight', ok: false, checks: [] } },
        'PreflightFailedError',
      ),
      'preflight',
      'Unchanged: nothing was applied; pre-flight only reads the database.',
    ],
    [
      'an unsafe migration is refused by the lint',
      failure(
        'migrate',
        { plan: { ...ok('plan'), blocking: true }, preflight: { ...ok('preflight'), checks: [] } },
        'UnsafeMigrationError',
      ),
      'lint',
      'Unchanged: nothing was applied; the lint refused the migrations before the backup.',
    ],
    [
      'DumpFailedError in the backup: no backup written, the partial upload aborted',
      failure('migrate', planned, 'DumpFailedError'),
      'backup',
      'Unchanged: nothing was applied. No backup was written: any partial upload was aborted and has no manifest, so `latest` still names the previous backup.',
    ],
    [
      'LockTimeoutError in the before-snapshot: nothing applied, the backup is complete',
      failure('migrate', backedUp, 'LockTimeoutError'),
      'snapshotBefore',
      "Unchanged: nothing was applied; this run's backup is complete in S3.",
    ],
    [
      'LockTimeoutError in apply: the failing migration rolled back, earlier ones applied',
      failure('migrate', snapshotted, 'LockTimeoutError'),
      'migrate',
      'The failing migration was rolled back; migrations before it in this run stay applied.',
    ],
    [
      'MigrationFailedError in apply: the same',
      failure('migrate', snapshotted, 'MigrationFailedError'),
      'migrate',
      'The failing migration was rolled back; migrations before it in this run stay applied.',
    ],
    [
      'MigrationLockedError in apply: nothing applied, the lock was never taken',
      failure('migrate', snapshotted, 'MigrationLockedError'),
      'migrate',
      'Unchanged: nothing was applied; another run holds the migration lock.',
    ],
    [
      'PartialMigrationError: partly changed, the statements that ran stay',
      failure('migrate', snapshotted, 'PartialMigrationError'),
      'migrate',
      'Partly changed: the no-transaction migration stopped at a lock timeout; its statements that ran stay (the error lists them) and it is recorded as failed. Migrations before it in this run stay applied.',
    ],
    [
      'InterruptedMigrationError: this run changed nothing, an earlier run died mid no-transaction migration',
      failure('migrate', snapshotted, 'InterruptedMigrationError'),
      'migrate',
      'Unchanged by this run: it refused before applying anything. An earlier run died during a no-transaction migration (the error names its execution); which of its statements ran is unknown, and those that ran stay.',
    ],
    [
      'a down-migration that failed: rolled back, the ones before it stay reverted',
      failure('downgrade', { backup: ok('backup'), snapshotBefore: ok('schema') }, 'MigrationFailedError'),
      'migrate',
      'The failing down-migration was rolled back; down-migrations before it in this run stay reverted.',
    ],
    [
      'a crash in apply: unknown, verify says',
      failure('migrate', snapshotted, 'Sandbox.Timedout'),
      'migrate',
      'Unknown: the step stopped mid-way; run `pgshift start verify` to compare what is applied with what was recorded.',
    ],
    [
      'after apply (the after-snapshot): changed, only the later steps missing',
      failure(
        'migrate',
        { ...snapshotted, migrate: { ...ok('migrate'), applied: [{}, {}] } },
        'States.Timeout',
      ),
      'snapshotAfter',
      'Changed: 2 migration(s) applied; only the later steps (snapshotAfter on) are missing.',
    ],
    [
      'restore refused: untouched',
      failure('restore', {}, 'RestoreRefusedError'),
      'restore',
      'Unchanged: the restore was refused before touching anything.',
    ],
    [
      'restore of a corrupt backup: refused before restoring',
      failure('restore', {}, 'BackupCorruptError'),
      'restore',
      'Unchanged: the backup was refused before anything was restored.',
    ],
    [
      'restore failed: the original keeps serving',
      failure('restore', {}, 'RestoreFailedError'),
      'restore',
      'The original database is untouched and still serving.',
    ],
    [
      'report action: the report only reads',
      failure('report', {}, 'ReportFailedError'),
      'report',
      'Unchanged: the report only reads the database; nothing was written to it.',
    ],
    [
      'a dry run never changes anything',
      failure('migrate', snapshotted, 'LockTimeoutError', undefined, { dryRun: true }),
      'migrate',
      'Unchanged: nothing was applied: this was a dry run.',
    ],
  ])('%s', (_name, alert, step, line) => {
    expect(alert.failedStep).toBe(step);
    expect(stateNow(alert)).toBe(line);
    expect(renderEmail(alert)).toContain(`State of the database now: ${line}`);
  });

  test('an input that never validated failed in validate (the notify function says so)', () => {
    const alert = alertFromEvent(
      'failure',
      {
        input: { action: 'migrate', database: 'shop' },
        execution: { id: executionArn, name: 'run-1' },
        error: { Error: 'InputValidationError', Cause: 'unknown field "dryrun"' },
      },
      new Date(),
      { failedStep: 'validate' },
    );
    expect(alert.failedStep).toBe('validate');
    expect(stateNow(alert)).toBe(
      'Unchanged: nothing was applied; the input was refused before any step ran.',
    );
  });
});

describe('the Chatbot form stays within what Slack posts', () => {
  const longUrl = `https://pgshift-backups.s3.eu-west-1.amazonaws.com/reports/shop/report.html?X-Amz-Security-Token=${'T'.repeat(1200)}&X-Amz-Signature=${'a'.repeat(64)}`;

  function bigFailure() {
    const alert = failure(
      'migrate',
      { ...snapshotted, report: { ...ok('report'), htmlUrl: longUrl } },
      'MigrationFailedError',
      `0002_orders.up.sql failed at statement 3: ${'INSERT INTO orders VALUES (1); '.repeat(300)}`,
    );
    alert.facts.push(...Array.from({ length: 40 }, (_, i) => `Fact ${i}: ${'detail '.repeat(10)}`));
    alert.warnings.push('The schema diff contains destructive changes');
    return alert;
  }

  test('a long error and many details: within the limits, what to do and every link kept', () => {
    // Prepare
    const alert = bigFailure();
    // Act
    const chatbot = chatbotNotification.parse(renderChatbot(alert));
    // Assess
    const { title, description, nextSteps } = chatbot.content;
    expect(title.length).toBeLessThanOrEqual(CHATBOT_LIMITS.title);
    expect(description.length).toBeLessThanOrEqual(CHATBOT_LIMITS.description);
    expect(nextSteps).toEqual([
      'Fix the failing migration (its name and statement are in the error), then run again.',
    ]);
    expect(description).toContain(`<${longUrl}|Report>`);
    expect(description).toContain('|Execution>');
    expect(description).toContain('*Database:* shop');
    expect(description).toContain(
      '*State now:* The failing migration was rolled back; migrations before it in this run stay applied.',
    );
    expect(description).toMatch(
      /\*What happened:\* Failed in step migrate: MigrationFailedError: 0002_orders\.up\.sql failed at statement 3: INSERT.*…\n/,
    );
    expect(description).toMatch(/• …and \d+ more in the email/);
    // The email keeps everything.
    expect(renderEmail(alert)).toContain('Fact 39:');
  });

  test('a short alert is not touched', () => {
    const alert = failure(
      'migrate',
      snapshotted,
      'LockTimeoutError',
      'canceling statement due to lock timeout',
    );
    const { description } = chatbotNotification.parse(renderChatbot(alert)).content;
    expect(description).not.toContain('…');
    expect(description).toContain('LockTimeoutError: canceling statement due to lock timeout');
    expect(description).toContain('• Backup: s3 key backups/shop/2026/11/25/x.dump');
  });

  test('details are dropped before the error is shortened, and counted', () => {
    const text = fitDescription(
      {
        head: ['*What happened:* short', '*State now:* fine'],
        shrinkFirst: [0],
        details: ['• one', '• two', `• ${'x'.repeat(80)}`],
        links: ['<https://e/x|Execution>'],
      },
      120,
    );
    expect(text).toBe(
      '*What happened:* short\n*State now:* fine\n• one\n• two\n• …and 1 more in the email\n<https://e/x|Execution>',
    );
    expect(text.length).toBeLessThanOrEqual(120);
  });

  test('links that would crowd out the alert keep the first and name the others as in the email', () => {
    const text = fitDescription(
      {
        head: ['*What happened:* failed', '*State now:* unchanged'],
        shrinkFirst: [0],
        details: [],
        links: ['<https://e/x|Execution>', `<https://r/${'y'.repeat(200)}|Report>`, '<https://b/z|Backup>'],
      },
      200,
    );
    expect(text).toBe(
      '*What happened:* failed\n*State now:* unchanged\n<https://e/x|Execution> · (Report and Backup links in the email)',
    );
  });

  test('clip never splits a surrogate pair and ends in an ellipsis', () => {
    expect(clip('abc', 5)).toBe('abc');
    expect(clip('abcdef', 4)).toBe('abc…');
    expect(clip('ab😀cd', 4)).toBe('ab…');
  });
});

describe('docs/alerts.md', () => {
  test('its cdk.json example is a context the stack accepts, with the Slack ids and addresses it shows', () => {
    // Prepare
    const doc = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'alerts.md'), 'utf8');
    const block = /```json\n([\s\S]*?)```/.exec(doc)?.[1];
    const example = JSON.parse(block ?? 'null') as {
      context: { pgshift: { alerts: unknown; workflow: Record<string, unknown> } };
    };
    // Act
    const parsed = parsePgshiftContext({ ...SAMPLE_CONTEXT, ...example.context.pgshift });
    // Assess
    expect(parsed.alerts).toEqual(example.context.pgshift.alerts);
    expect(parsed.workflow.durationWarningMinutes).toBe(
      example.context.pgshift.workflow.durationWarningMinutes,
    );
  });
});

describe('every error name in docs/errors.md has its own next step', () => {
  const doc = readFileSync(path.join(__dirname, '../../docs/errors.md'), 'utf8');
  const names = [...doc.matchAll(/^\| `([A-Za-z.]+)`(?:, `([A-Za-z.]+)`)? \|/gm)].flatMap((m) =>
    m.slice(1).filter((n): n is string => Boolean(n)),
  );
  const generic = nextSteps(failure('migrate', planned, 'SomethingUnknown'))[0];

  it('reads the names from the tables', () => {
    expect(names).toEqual(expect.arrayContaining(['InputValidationError', 'States.DataLimitExceeded']));
    expect(names.length).toBeGreaterThan(25);
  });

  it.each(names)('%s', (name) => {
    const [next] = nextSteps(failure('migrate', planned, name));
    expect(next).not.toEqual(generic);
  });
});

test('a refusal over an INVALID index an earlier run left does not say the migration was rolled back', () => {
  const alert = failure(
    'migrate',
    snapshotted,
    'MigrationFailedError',
    '0003_index.up.sql: an earlier failed run left INVALID index(es) app.orders_idx; run DROP INDEX CONCURRENTLY IF EXISTS app.orders_idx; and apply again',
  );
  expect(stateNow(alert)).toMatch(/^Refused before running it: an earlier run .* INVALID index/);
  expect(stateNow(alert)).not.toMatch(/rolled back/);
});
