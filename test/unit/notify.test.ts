import { mockClient } from 'aws-sdk-client-mock';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  SchedulerClient,
} from '@aws-sdk/client-scheduler';
import {
  alertFromEvent,
  alertSubject,
  parseCaughtError,
  renderChatbot,
  renderEmail,
  renderSnsMessage,
  startDurationWatchdog,
  stopDurationWatchdog,
  watchdogScheduleName,
} from '../../lambdas/notify';
import type { StepEvent } from '../../lambdas/shared/step';
import { EMAIL_LINES, parseAlertMessage } from '../helpers/alert-shape';
import { present } from '../helpers/present';

const executionArn = 'arn:aws:states:eu-west-1:123456789012:execution:pgshift:run-1';
const started = '2026-11-25T10:00:00.000Z';

function migrateEvent(results: StepEvent['results']): StepEvent {
  return {
    input: { action: 'migrate', database: 'shop' },
    execution: { id: executionArn, name: 'run-1', startTime: started },
    results,
  };
}

describe('alerts', () => {
  test('the alert says which migrations ran: the bundle and its sha256, or the deployed files', () => {
    // Prepare
    const sha = 'a'.repeat(64);
    const bundle = { source: 'bundle', bundle: `bundles/${sha}.json`, sha256: sha, count: 6 };
    const withBundle = migrateEvent({ plan: { step: 'plan', ok: true, migrations: bundle } });
    const deployed = migrateEvent({
      plan: { step: 'plan', ok: true, migrations: { source: 'deployed', count: 6 } },
    });
    // A bundle refused before any step read it: the input still names it.
    const refused = {
      ...migrateEvent({}),
      input: {
        action: 'migrate' as const,
        database: 'shop',
        migrations: { bundle: `bundles/${sha}.json`, sha256: sha },
      },
      error: { Error: 'MigrationBundleMismatchError', Cause: 'changed' },
    };
    // Act
    const emails = [
      renderEmail(alertFromEvent('success', withBundle)),
      renderEmail(alertFromEvent('success', deployed)),
      renderEmail(alertFromEvent('failure', refused)),
    ];
    // Assess
    expect(emails[0]).toContain(`- Migrations: bundle bundles/${sha}.json (sha256 ${sha})`);
    expect(emails[1]).toContain(
      '- Migrations: the files baked into the deployed migrate function (no bundle)',
    );
    expect(emails[2]).toContain(`- Migrations: bundle bundles/${sha}.json (sha256 ${sha})`);
    expect(
      renderEmail(alertFromEvent('success', { ...deployed, input: { action: 'backup' } })),
    ).not.toContain('Migrations:');
  });

  test('a failure names the step it happened in, the error, and what to do', () => {
    // Prepare
    const event = {
      ...migrateEvent({
        plan: { step: 'plan', ok: true, pending: [{}, {}], lint: { errors: 0, warnings: 1 } },
        preflight: {
          step: 'preflight',
          ok: true,
          checks: [{ id: 'connections', status: 'warn', message: 'pool near max' }],
        },
        backup: { step: 'backup', ok: true, key: 'backups/shop/2026/11/25/pg_backup_20261125_100000.dump' },
        snapshotBefore: { step: 'schema', ok: true },
      }),
      error: {
        Error: 'MigrationFailedError',
        Cause: JSON.stringify({
          errorType: 'MigrationFailedError',
          errorMessage: '0002_orders.up.sql failed: relation "x" does not exist',
          trace: ['at secret place'],
        }),
      },
    };
    // Act
    const alert = alertFromEvent('failure', event, new Date('2026-11-25T10:05:30Z'));
    const email = renderEmail(alert);
    // Assess
    expect(alert).toMatchObject({
      database: 'shop',
      action: 'migrate',
      failedStep: 'migrate',
      durationMs: 330_000,
      error: {
        name: 'MigrationFailedError',
        message: '0002_orders.up.sql failed: relation "x" does not exist',
      },
    });
    expect(email).toContain('pgshift migrate FAILED on shop');
    expect(email).toContain(
      'What happened: Failed in step migrate: MigrationFailedError: 0002_orders.up.sql failed',
    );
    expect(email).toContain('ran 5m 30s');
    expect(email).toContain('Backup: s3 key backups/shop/2026/11/25/pg_backup_20261125_100000.dump');
    expect(email).toContain('Pre-flight connections: pool near max');
    expect(email).toContain(
      'State of the database now: The failing migration was rolled back; migrations before it in this run stay applied.',
    );
    expect(email).toContain(
      'https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1#/v2/executions/details/',
    );
    expect(email).not.toContain('secret place');
  });

  test('the SNS message gives email plain text and Chatbot its custom-notification JSON', () => {
    // Prepare
    const alert = alertFromEvent(
      'success',
      migrateEvent({
        report: { step: 'report', ok: true, htmlUrl: 'https://bucket.s3/report.html?X-Amz-Signature=1' },
      }),
    );
    // Act
    const message = renderSnsMessage(alert);
    const bodies = JSON.parse(message.Message) as Record<string, string>;
    const { chatbot } = parseAlertMessage(message.Message);
    // Assess
    expect(message.MessageStructure).toBe('json');
    expect(message.Subject).toBe('pgshift migrate succeeded on shop');
    expect(bodies.email).toContain('Report: https://bucket.s3/report.html?X-Amz-Signature=1');
    expect(bodies.default).toBe(bodies.email);
    for (const line of EMAIL_LINES) expect(bodies.email).toContain(line);
    expect(chatbot).toMatchObject({ version: '1.0', source: 'custom' });
    expect(chatbot.content).toMatchObject({
      textType: 'client-markdown',
      title: expect.stringContaining('succeeded'),
    });
    expect(String(chatbot.content.description)).toContain('|Report>');
    expect(renderChatbot(alert)).toEqual(chatbot);
  });

  test('subjects stay within SNS limits: ASCII, one line, at most 100 characters', () => {
    const alert = alertFromEvent('failure', {
      ...migrateEvent({}),
      input: { action: 'migrate', database: `bäse_${'x'.repeat(120)}` },
    });
    const subject = alertSubject(alert);
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  test('a plain-text cause (from a Fail or Pass state) is kept as the message', () => {
    expect(
      parseCaughtError({ Error: 'PreflightFailedError', Cause: 'disk-space: 2 GB free, 9 GB needed' }),
    ).toEqual({
      name: 'PreflightFailedError',
      message: 'disk-space: 2 GB free, 9 GB needed',
    });
    expect(parseCaughtError(undefined)).toBeUndefined();
  });
});

describe('duration watchdog (EventBridge Scheduler mocked: no local stand-in)', () => {
  const scheduler = mockClient(SchedulerClient);
  afterEach(() => scheduler.reset());

  test('creates a one-time UTC schedule that publishes the still-running alert and deletes itself', async () => {
    // Prepare
    scheduler.on(CreateScheduleCommand).resolves({ ScheduleArn: 'arn:aws:scheduler:::schedule/x' });
    const alert = alertFromEvent('still-running', migrateEvent({}));
    // Act
    const out = await startDurationWatchdog(
      {
        scheduler: new SchedulerClient({ region: 'eu-west-1' }),
        topicArn: 'arn:aws:sns:eu-west-1:123456789012:alerts',
        roleArn: 'arn:aws:iam::123456789012:role/watchdog',
        groupName: 'pgshift',
      },
      executionArn,
      new Date('2026-11-25T11:00:00.123Z'),
      alert,
    );
    // Assess
    const sent = present(scheduler.commandCalls(CreateScheduleCommand)[0], 'a CreateSchedule call').args[0]
      .input;
    expect(out.scheduleName).toBe(watchdogScheduleName(executionArn));
    expect(sent.Name).toMatch(/^[0-9a-zA-Z_.-]{1,64}$/);
    expect(sent).toMatchObject({
      GroupName: 'pgshift',
      ScheduleExpression: 'at(2026-11-25T11:00:00)',
      ScheduleExpressionTimezone: 'UTC',
      ActionAfterCompletion: 'DELETE',
      Target: {
        Arn: 'arn:aws:scheduler:::aws-sdk:sns:publish',
        RoleArn: 'arn:aws:iam::123456789012:role/watchdog',
      },
    });
    const publish = JSON.parse(sent.Target?.Input ?? '{}') as Record<string, string>;
    expect(publish.TopicArn).toBe('arn:aws:sns:eu-west-1:123456789012:alerts');
    expect(publish.Subject).toBe('pgshift migrate still running on shop');
  });

  test('stopping deletes the schedule, and a schedule that already fired is not an error', async () => {
    // Prepare
    scheduler
      .on(DeleteScheduleCommand)
      .resolvesOnce({})
      .rejectsOnce(new ResourceNotFoundException({ Message: 'gone', message: 'gone', $metadata: {} }));
    const client = new SchedulerClient({ region: 'eu-west-1' });
    // Act
    const first = await stopDurationWatchdog({ scheduler: client }, executionArn);
    const second = await stopDurationWatchdog({ scheduler: client }, executionArn);
    // Assess
    expect(first.deleted).toBe(true);
    expect(second.deleted).toBe(false);
  });
});
