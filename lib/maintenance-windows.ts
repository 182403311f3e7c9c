import { TimeZone } from 'aws-cdk-lib';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';

/** One window: when the state machine starts on its own, and with which input. */
export interface MaintenanceWindow {
  /** Unique among windows; part of the schedule's construct id. */
  readonly name: string;
  /** EventBridge Scheduler expression: `cron(0 3 ? * SUN *)`, `rate(7 days)`, `at(2026-01-01T03:00:00)`. */
  readonly schedule: string;
  /** IANA time zone the expression is read in (daylight saving handled by the scheduler). @default "UTC" */
  readonly timezone?: string;
  /** Execution input (validated by bin/app.ts like the console's). */
  readonly input: Record<string, unknown>;
  /** @default true */
  readonly enabled?: boolean;
}

export interface MaintenanceWindowsProps {
  readonly stateMachine: sfn.IStateMachine;
  /** @default none */
  readonly windows?: MaintenanceWindow[];
}

/**
 * Maintenance windows as EventBridge Scheduler schedules (time zones, unlike EventBridge rules), each starting
 * the state machine with its input. Several windows are allowed (e.g. nightly backup, Sunday migrate).
 */
export class MaintenanceWindows extends Construct {
  readonly schedules: scheduler.Schedule[] = [];

  constructor(scope: Construct, id: string, props: MaintenanceWindowsProps) {
    super(scope, id);
    const windows = props.windows ?? [];
    const names = windows.map((w) => w.name);
    const duplicates = names.filter((n, i) => names.indexOf(n) !== i);
    if (duplicates.length > 0)
      throw new Error(`MaintenanceWindows: duplicate names ${[...new Set(duplicates)].join(', ')}`);
    for (const w of windows) {
      const target = new schedulerTargets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject(w.input),
        // A window that cannot start (e.g. throttled) is retried briefly, then skipped: the next window comes.
        retryAttempts: 3,
      });
      this.schedules.push(
        new scheduler.Schedule(this, w.name, {
          description: `pgshift maintenance window "${w.name}"`,
          schedule: scheduler.ScheduleExpression.expression(w.schedule, TimeZone.of(w.timezone ?? 'UTC')),
          target,
          enabled: w.enabled ?? true,
        }),
      );
    }
  }
}
