import type { SchedulerClient } from '@aws-sdk/client-scheduler';
import { alertFromEvent, type Alert } from '../notify/alert';
import { deliverAlert, readAlertMarker, type AlertChannel, type AlertDelivery } from '../notify/deliver';
import { stopDurationWatchdog } from '../notify/watchdog';
import type { ExecutionInput } from '../shared/input';
import { errorMessage } from '../shared/errors';

/** The EventBridge event Step Functions sends when an execution changes status (the fields pgshift reads). */
export interface ExecutionStatusChange {
  source: string;
  'detail-type': string;
  detail: {
    executionArn: string;
    stateMachineArn: string;
    name: string;
    status: string;
    /** Epoch milliseconds. */
    startDate?: number | null;
    stopDate?: number | null;
    /** The execution's input as a JSON string (absent when it exceeded the event's size). */
    input?: string | null;
    error?: string | null;
    cause?: string | null;
  };
}

export interface EndedDeps {
  channel: AlertChannel;
  scheduler: SchedulerClient;
  /** The watchdog's schedule group. */
  scheduleGroup?: string;
  /** PGSHIFT_DATABASE: the database of an input that names none. */
  defaultDatabase?: string;
  bucket?: string;
}

export interface EndedOutcome {
  status: string;
  database: string;
  /** The alert this function sent, or why it sent none. */
  alert: AlertDelivery & { kind?: Alert['kind']; skipped?: string };
  watchdog: { scheduleName?: string; deleted: boolean; error?: string };
}

const KINDS: Record<string, Alert['kind']> = {
  FAILED: 'failure',
  TIMED_OUT: 'timed-out',
  ABORTED: 'aborted',
};

function parseInput(raw: string | null | undefined): Partial<ExecutionInput> {
  try {
    const parsed: unknown = JSON.parse(raw ?? '{}');
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/**
 * What the state machine cannot report itself: an execution that ended TIMED_OUT, ABORTED or FAILED with an
 * error no Catch saw. Deletes the duration watchdog (always), then sends the same alert Notify would, unless
 * Notify already sent this execution's failure alert (its marker under runs/<db>/<execution>/alerts/). Never
 * throws: a failure here is logged and counted (AlertFailures), and EventBridge's own retry is not relied on.
 */
export async function onExecutionEnded(
  deps: EndedDeps,
  event: ExecutionStatusChange,
  now = new Date(),
): Promise<EndedOutcome> {
  const d = event.detail;
  const input = parseInput(d.input);
  const database = typeof input.database === 'string' ? input.database : (deps.defaultDatabase ?? 'unknown');
  const log = deps.channel.log;

  const watchdog: EndedOutcome['watchdog'] = { deleted: false };
  try {
    Object.assign(
      watchdog,
      await stopDurationWatchdog(
        { scheduler: deps.scheduler, groupName: deps.scheduleGroup },
        d.executionArn,
      ),
    );
  } catch (err) {
    watchdog.error = errorMessage(err);
    log.error('the duration watchdog could not be deleted: a false "still running" may follow', {
      executionArn: d.executionArn,
      error: watchdog.error,
    });
    deps.channel.countFailure('watchdog-stop');
  }

  const kind = KINDS[d.status];
  if (!kind)
    return {
      status: d.status,
      database,
      alert: { published: false, skipped: `status ${d.status}` },
      watchdog,
    };
  if (deps.channel.store) {
    try {
      const marker = await readAlertMarker(deps.channel.store, database, d.name, kind);
      if (marker) {
        log.info('the workflow already alerted this outcome', { executionArn: d.executionArn, kind });
        return {
          status: d.status,
          database,
          alert: {
            published: false,
            kind,
            skipped: 'already alerted by the workflow',
            messageId: marker.messageId,
          },
          watchdog,
        };
      }
    } catch (err) {
      // Unsure whether Notify alerted: a second alert is better than none.
      log.warn('the alert marker could not be read; alerting anyway', { error: errorMessage(err) });
    }
  }

  const startTime = typeof d.startDate === 'number' ? new Date(d.startDate).toISOString() : undefined;
  const alert = alertFromEvent(
    kind,
    {
      input: { action: input.action ?? 'unknown', database, dryRun: input.dryRun } as ExecutionInput,
      execution: { id: d.executionArn, name: d.name, startTime },
      results: {},
      error: kind === 'failure' ? { Error: d.error ?? 'States.Runtime', Cause: d.cause ?? '' } : undefined,
    },
    typeof d.stopDate === 'number' ? new Date(d.stopDate) : now,
    { bucket: deps.bucket },
  );
  // Nothing says which step it was in: the event carries the input, not the state.
  alert.failedStep = undefined;
  const delivery = await deliverAlert(deps.channel, alert, d.name);
  return { status: d.status, database, alert: { ...delivery, kind }, watchdog };
}
