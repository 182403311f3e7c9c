import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { InputValidationError } from '../shared/errors';
import { optionalEnv } from '../shared/env';
import { createLogger } from '../shared/logger';
import type { StepEvent, StepOutput } from '../shared/step';
import { alertFromEvent, type CaughtError } from './alert';
import { publishAlert } from './publish';
import { startDurationWatchdog, stopDurationWatchdog } from './watchdog';

const log = createLogger('notify');
const topicArn = optionalEnv('PGSHIFT_TOPIC_ARN');
const defaultDatabase = optionalEnv('PGSHIFT_DATABASE');
const watchdogRoleArn = optionalEnv('PGSHIFT_SCHEDULER_ROLE_ARN');
const watchdogGroup = optionalEnv('PGSHIFT_SCHEDULE_GROUP');
const warningMinutes = Number(optionalEnv('PGSHIFT_DURATION_WARNING_MINUTES') ?? '60');
// AWS_ENDPOINT_URL_SNS is also read by the SDK itself; passing it keeps local runs explicit.
const sns = new SNSClient({ endpoint: optionalEnv('AWS_ENDPOINT_URL_SNS') });
const scheduler = new SchedulerClient({});

/**
 * The failure path cannot rely on `$.input`: when `Validate input` itself fails, the state is still the raw
 * execution input. So the failure states pass the whole state as `state` and the execution from the context
 * object, and this unpacks either shape.
 */
type NotifyEvent = Partial<StepEvent> & {
  params?: Record<string, unknown>;
  execution: StepEvent['execution'];
  error?: CaughtError;
  state?: Partial<StepEvent> & { error?: CaughtError; action?: unknown; database?: unknown };
};

function unpack(
  event: NotifyEvent,
): Partial<StepEvent> & { error?: CaughtError; execution: StepEvent['execution'] } {
  const state = event.state;
  if (!state) return event;
  const validated = state.input !== undefined;
  const raw = state as { action?: unknown; database?: unknown };
  const input = validated
    ? state.input
    : ({
        action: typeof raw.action === 'string' ? raw.action : 'unknown',
        database: typeof raw.database === 'string' ? raw.database : defaultDatabase,
      } as StepEvent['input']);
  return {
    input,
    execution: event.execution,
    results: state.results ?? {},
    error: state.error ?? event.error,
  };
}

/**
 * Notify step: success/failure alerts to SNS, and the duration watchdog (a one-time Scheduler schedule).
 * A failure alert must never hide the original failure, so publishing errors are logged, not thrown.
 */
export async function handler(raw: NotifyEvent): Promise<StepOutput> {
  const operation = raw.params?.operation;
  const event = unpack(raw);
  switch (operation) {
    case 'success':
    case 'failure': {
      const alert = alertFromEvent(operation, event);
      if (!topicArn) return { step: 'notify', ok: true, published: false, reason: 'no topic configured' };
      try {
        const messageId = await publishAlert(sns, topicArn, alert);
        log.info('alert published', { kind: operation, messageId });
        return { step: 'notify', ok: true, published: true, messageId };
      } catch (err) {
        if (operation === 'success') throw err;
        log.error('failure alert could not be published', { error: (err as Error).message });
        return { step: 'notify', ok: false, published: false, reason: (err as Error).message };
      }
    }
    case 'watchdog-start': {
      if (!topicArn || !watchdogRoleArn) {
        return {
          step: 'watchdog',
          ok: true,
          scheduled: false,
          reason: 'no topic or scheduler role configured',
        };
      }
      const at = new Date(Date.now() + warningMinutes * 60_000);
      const alert = alertFromEvent('still-running', event);
      alert.durationMs = warningMinutes * 60_000;
      const out = await startDurationWatchdog(
        { scheduler, topicArn, roleArn: watchdogRoleArn, groupName: watchdogGroup },
        event.execution.id,
        at,
        alert,
      );
      return { step: 'watchdog', ok: true, scheduled: true, ...out };
    }
    case 'watchdog-stop': {
      if (!topicArn || !watchdogRoleArn) return { step: 'watchdog', ok: true, deleted: false };
      const out = await stopDurationWatchdog({ scheduler, groupName: watchdogGroup }, event.execution.id);
      return { step: 'watchdog', ok: true, ...out };
    }
    default:
      throw new InputValidationError([`notify: unknown operation ${JSON.stringify(operation)}`]);
  }
}
