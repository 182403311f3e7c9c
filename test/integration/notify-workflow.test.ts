/**
 * The notify and workflow handlers against the S3/SNS stand-in: an alert published by the handler arrives
 * at a subscriber with its Subject and both renderings; a Fargate task's result is read back from S3.
 */
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import { taskResultKey } from '../../lambdas/shared/keys';
import { putJson } from '../../lambdas/shared/s3';
import { readAlerts, rigInfo, rigStore } from '../rig/helpers';
import { present } from '../helpers/present';

type Handler = (event: unknown) => Promise<StepOutput>;

function load(module: 'notify' | 'workflow'): Handler {
  const info = rigInfo();
  process.env.PGSHIFT_TOPIC_ARN = info.sns.topicArn;
  process.env.AWS_ENDPOINT_URL_SNS = info.sns.endpoint;
  process.env.AWS_ENDPOINT_URL_S3 = info.s3.endpoint;
  process.env.PGSHIFT_BUCKET = info.s3.bucket;
  process.env.POWERTOOLS_LOG_LEVEL = 'CRITICAL';
  let handler: Handler | undefined;
  jest.isolateModules(() => {
    handler = (require(`../../lambdas/${module}/handler`) as { handler: Handler }).handler;
  });
  return handler!;
}

describe('notify handler', () => {
  test('a failure alert reaches a subscriber as Chatbot JSON with a readable subject', async () => {
    // Prepare
    const notify = load('notify');
    const database = `alerts_${Date.now()}`;
    const state = {
      input: { action: 'migrate', database },
      execution: { id: 'local-notify-test', startTime: new Date(Date.now() - 2000).toISOString() },
      results: { plan: { step: 'plan', ok: true, pending: [{}] } },
      error: { Error: 'LockTimeoutError', Cause: 'canceling statement due to lock timeout' },
    };
    // Act
    const out = await notify({
      state,
      execution: state.execution,
      params: { operation: 'failure' },
    });
    const alert = present(
      (await readAlerts((a) => a.Subject?.includes(database) ?? false, { waitSeconds: 5 }))[0],
      'the alert',
    );
    // Assess
    expect(out).toMatchObject({ step: 'notify', ok: true, published: true });
    expect(alert.Subject).toBe(`pgshift migrate FAILED on ${database}`);
    // fauxqs 1.9.2 ignores MessageStructure and delivers the per-protocol document itself; real SNS delivers
    // `default` to SQS, `email` to email and `https` (how Chatbot subscribes) to HTTPS subscribers.
    const perProtocol = JSON.parse(alert.Message) as { default: string; email: string; https: string };
    expect(perProtocol.email).toContain(
      'What happened: Failed in step preflight: LockTimeoutError: canceling statement due to lock timeout',
    );
    const body = JSON.parse(perProtocol.https) as { source: string; content: { description: string } };
    expect(body.source).toBe('custom');
    expect(body.content.description).toContain('LockTimeoutError: canceling statement due to lock timeout');
  });

  test('the failure path also alerts when the input itself was invalid (raw state)', async () => {
    // Prepare
    const notify = load('notify');
    const database = `raw_${Date.now()}`;
    // Act
    await notify({
      state: {
        action: 'migrate',
        database,
        dryrun: true,
        error: { Error: 'InputValidationError', Cause: 'unknown field "dryrun"' },
      },
      execution: { id: 'local-raw' },
      params: { operation: 'failure' },
    });
    const alert = present(
      (await readAlerts((a) => a.Subject?.includes(database) ?? false, { waitSeconds: 5 }))[0],
      'the alert',
    );
    // Assess
    expect(alert.Subject).toBe(`pgshift migrate FAILED on ${database}`);
    expect(alert.Message).toContain('unknown field');
  });

  test('an unknown operation is a clear InputValidationError', async () => {
    const notify = load('notify');
    await expect(notify({ execution: { id: 'x' }, params: { operation: 'shout' } })).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringContaining('unknown operation "shout"'),
    });
  });
});

describe('workflow handler', () => {
  test('collect-task-result reads what a Fargate task wrote, and says so clearly when it is missing', async () => {
    // Prepare
    const workflow = load('workflow');
    const database = `fargate_${Date.now()}`;
    const output: StepOutput = { step: 'backup', ok: true, key: 'backups/x.dump' };
    await putJson(rigStore(), taskResultKey(database, 'exec-1', 'backup'), output);
    const event = (name: string): StepEvent & { params: Record<string, unknown> } => ({
      input: { action: 'backup', database },
      execution: { id: `arn:aws:states:us-east-1:000000000000:execution:pgshift:${name}`, name },
      params: { operation: 'collect-task-result', step: 'backup' },
    });
    // Act
    const collected = await workflow(event('exec-1'));
    // Assess
    expect(collected).toEqual(output);
    await expect(workflow(event('exec-2'))).rejects.toMatchObject({ name: 'TaskResultMissingError' });
  });

  test('validate returns the validated input and rejects bad input with every problem', async () => {
    const workflow = load('workflow');
    await expect(
      workflow({ raw: { action: 'restore', confirm: 'x', steps: 0 }, execution: { id: 'local-v' } }),
    ).rejects.toMatchObject({ name: 'InputValidationError', message: expect.stringContaining('steps') });
    await expect(
      workflow({ raw: { action: 'report', database: 'shop' }, execution: { id: 'local-v' } }),
    ).resolves.toEqual({
      input: { action: 'report', database: 'shop' },
      execution: { id: 'local-v' },
      results: {},
    });
  });
});
