import { createHash } from 'node:crypto';
import {
  CreateScheduleCommand,
  DeleteScheduleCommand,
  ResourceNotFoundException,
  type SchedulerClient,
} from '@aws-sdk/client-scheduler';
import { errorName } from '../shared/errors';
import type { Alert } from './alert';
import { renderSnsMessage } from './render';

/** Where the "still running" alert goes and as whom EventBridge Scheduler publishes it. */
export interface WatchdogTarget {
  scheduler: SchedulerClient;
  topicArn: string;
  /** Role Scheduler assumes to publish (sns:Publish on the topic, kms:GenerateDataKey/Decrypt on its key). */
  roleArn: string;
  /** Schedule group the stack created, so its IAM grant can be scoped to it. @default "default" */
  groupName?: string;
}

/** Schedule names allow 64 characters of [0-9a-zA-Z-_.]; execution names allow 80 of more. */
export function watchdogScheduleName(executionId: string): string {
  return `pgshift-watchdog-${createHash('sha256').update(executionId).digest('hex').slice(0, 32)}`;
}

/** `at()` takes local time without offset in the given zone; pgshift always uses UTC. */
function atExpression(at: Date): string {
  return `at(${at.toISOString().slice(0, 19)})`;
}

/**
 * Creates a one-time schedule that publishes a "still running" alert at `at`. It is Scheduler, not the
 * workflow, that fires it, so a state stuck on a lock or a hung Lambda still alerts. The schedule deletes
 * itself after firing; `stopDurationWatchdog` deletes it when the execution ends first.
 */
export async function startDurationWatchdog(
  target: WatchdogTarget,
  executionId: string,
  at: Date,
  alert: Alert,
): Promise<{ scheduleName: string; firesAt: string }> {
  const name = watchdogScheduleName(executionId);
  const message = renderSnsMessage(alert);
  await target.scheduler.send(
    new CreateScheduleCommand({
      Name: name,
      GroupName: target.groupName,
      ScheduleExpression: atExpression(at),
      ScheduleExpressionTimezone: 'UTC',
      FlexibleTimeWindow: { Mode: 'OFF' },
      ActionAfterCompletion: 'DELETE',
      Description: `pgshift: alert if ${alert.action} on ${alert.database} is still running`,
      Target: {
        // Scheduler's universal target calls sns:Publish with these parameters, Subject included.
        Arn: 'arn:aws:scheduler:::aws-sdk:sns:publish',
        RoleArn: target.roleArn,
        Input: JSON.stringify({ TopicArn: target.topicArn, ...message }),
        RetryPolicy: { MaximumRetryAttempts: 3 },
      },
    }),
  );
  return { scheduleName: name, firesAt: at.toISOString() };
}

/** Deletes the watchdog; a schedule that already fired (and deleted itself) or never existed is fine. */
export async function stopDurationWatchdog(
  target: Pick<WatchdogTarget, 'scheduler' | 'groupName'>,
  executionId: string,
): Promise<{ scheduleName: string; deleted: boolean }> {
  const name = watchdogScheduleName(executionId);
  try {
    await target.scheduler.send(new DeleteScheduleCommand({ Name: name, GroupName: target.groupName }));
    return { scheduleName: name, deleted: true };
  } catch (err) {
    if (err instanceof ResourceNotFoundException || errorName(err) === 'ResourceNotFoundException') {
      return { scheduleName: name, deleted: false };
    }
    throw err;
  }
}
