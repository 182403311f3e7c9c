import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { InputValidationError, errorMessage, errorName } from '../shared/errors';
import type { StepEvent, StepOutput } from '../shared/step';
import { alertFromEvent, type CaughtError } from './alert';
import { deliverAlert, type AlertChannel } from './deliver';
import { startDurationWatchdog, stopDurationWatchdog } from './watchdog';

/**
 * The failure path cannot rely on `$.input`: when `Validate input` itself fails, the state is still the raw
 * execution input. So the failure states pass the whole state as `state` and the execution from the context
 * object, and `unpack` reads either shape.
 */
export type NotifyEvent = Partial<StepEvent> & {
  params?: Record<string, unknown>;
  execution: StepEvent['execution'];
  error?: CaughtError;
  state?: Partial<StepEvent> & { error?: CaughtError; action?: unknown; database?: unknown };
};

export interface NotifyDeps {
  channel: AlertChannel;
  scheduler: SchedulerClient;
  /** The watchdog's scheduler role and group; without a role no watchdog is scheduled. */
  watchdog: { roleArn?: string; groupName?: string; warningMinutes: number };
  defaultDatabase?: string;
  /** The backups bucket, for the backup's console link. */
  bucket?: string;
}

function unpack(
  event: NotifyEvent,
  defaultDatabase: string | undefined,
): Partial<StepEvent> & { error?: CaughtError; execution: StepEvent['execution']; validated: boolean } {
  const state = event.state;
  if (!state) return { ...event, validated: true };
  const validated = state.input !== undefined;
  const input = validated
    ? state.input
    : ({
        action: typeof state.action === 'string' ? state.action : 'unknown',
        database: typeof state.database === 'string' ? state.database : defaultDatabase,
      } as StepEvent['input']);
  return {
    input,
    execution: event.execution,
    results: state.results ?? {},
    error: state.error ?? event.error,
    validated,
  };
}

function asError(err: unknown): { name: string; message: string } {
  return { name: errorName(err), message: errorMessage(err) };
}

/**
 * Notify step: success/failure alerts to SNS and the duration watchdog (a one-time Scheduler schedule). No
 * alert problem changes what the run did: publish and schedule failures are logged, counted (AlertFailures)
 * and returned with `ok: false` in the step's output, never thrown.
 */
export async function runNotify(deps: NotifyDeps, raw: NotifyEvent, now = new Date()): Promise<StepOutput> {
  const operation = raw.params?.operation;
  const event = unpack(raw, deps.defaultDatabase);
  const topicArn = deps.channel.topicArn;
  switch (operation) {
    case 'success':
    case 'failure': {
      const alert = alertFromEvent(operation, event, now, {
        bucket: deps.bucket,
        // The failure path of `Validate input` carries the raw input: the run failed there.
        failedStep: event.validated ? undefined : 'validate',
      });
      const out = await deliverAlert(deps.channel, alert, event.execution.name);
      return { step: 'notify', ok: out.error === undefined, ...out };
    }
    case 'watchdog-start': {
      if (!topicArn || !deps.watchdog.roleArn) {
        return {
          step: 'watchdog',
          ok: true,
          scheduled: false,
          reason: 'no topic or scheduler role configured',
        };
      }
      const minutes = deps.watchdog.warningMinutes;
      const alert = alertFromEvent('still-running', event, now, { bucket: deps.bucket });
      alert.durationMs = minutes * 60_000;
      try {
        const out = await startDurationWatchdog(
          {
            scheduler: deps.scheduler,
            topicArn,
            roleArn: deps.watchdog.roleArn,
            groupName: deps.watchdog.groupName,
          },
          event.execution.id,
          new Date(now.getTime() + minutes * 60_000),
          alert,
        );
        return { step: 'watchdog', ok: true, scheduled: true, ...out };
      } catch (err) {
        const error = asError(err);
        deps.channel.log.error('the duration watchdog could not be scheduled; the run goes on without it', {
          error,
        });
        deps.channel.countFailure('watchdog-start');
        return { step: 'watchdog', ok: false, scheduled: false, error };
      }
    }
    case 'watchdog-stop': {
      if (!topicArn || !deps.watchdog.roleArn) return { step: 'watchdog', ok: true, deleted: false };
      try {
        const out = await stopDurationWatchdog(
          { scheduler: deps.scheduler, groupName: deps.watchdog.groupName },
          event.execution.id,
        );
        return { step: 'watchdog', ok: true, ...out };
      } catch (err) {
        const error = asError(err);
        deps.channel.log.error(
          'the duration watchdog could not be deleted: a false "still running" may follow',
          {
            error,
          },
        );
        deps.channel.countFailure('watchdog-stop');
        return { step: 'watchdog', ok: false, deleted: false, error };
      }
    }
    default:
      throw new InputValidationError([`notify: unknown operation ${JSON.stringify(operation)}`]);
  }
}
