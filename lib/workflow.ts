import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ScopedEcsRunTask } from './ecs-run-task';
import type { FargateRunner } from './fargate-runner';
import { acknowledgeWildcardResource } from './nag';
import type { StepName } from './pgshift-function';

/** Lambda's transient errors, retried on every Task (throttles included: an account at its concurrency quota, or a reserved concurrency, throttles). */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ClientExecutionTimeoutException',
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
];

export interface WorkflowProps {
  /** The function of each step the state machine invokes (its environment's PGSHIFT_STEP names it). */
  readonly functions: Record<Exclude<StepName, 'ended'>, lambda.IFunction>;
  readonly fargate: FargateRunner;
  /** State machine name (the workflow function's lock check lists executions of this name). */
  readonly stateMachineName: string;
  /**
   * Back up on Fargate above this database size, and restore above this many bytes moved (the pre-restore
   * dump plus the backup's estimated restored size; lambdas/preflight/size.ts). @default 10 GiB
   */
  readonly fargateThresholdBytes?: number;
  /** @default 4 hours */
  readonly executionTimeout?: Duration;
  /** Apply's retries on LockTimeoutError. @default 4 attempts, 15 s, backoff 2 */
  readonly lockRetry?: {
    readonly maxAttempts: number;
    readonly intervalSeconds: number;
    readonly backoffRate: number;
  };
  /** Timeout of the Fargate states. @default 12 hours */
  readonly fargateTimeout?: Duration;
  /** The migrate function's timeout; its apply/downgrade states wait a minute longer. @default 15 minutes */
  readonly migrateTimeout?: Duration;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * The Step Functions state machine of docs/workflow.md (state names, payloads, result names are that contract).
 * JSONPath only, no Assign, no Distributed Map: the local interpreter (aws-local-stepfunctions) runs this very
 * definition in the workflow tests.
 */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    const fns = props.functions;
    const execution = {
      id: sfn.JsonPath.stringAt('$$.Execution.Id'),
      name: sfn.JsonPath.stringAt('$$.Execution.Name'),
      startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
    };

    // Failure path: its payload carries the whole state, since after a failed `Validate input` there is no $.input.
    const failed = new sfn.Fail(this, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const stopWatchdogAfterFailure = new tasks.LambdaInvoke(this, 'Stop duration watchdog (after failure)', {
      lambdaFunction: fns.notify,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        'state.$': '$',
        execution,
        params: { operation: 'watchdog-stop' },
      }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
    });
    const notifyFailure = new tasks.LambdaInvoke(this, 'Notify failure', {
      lambdaFunction: fns.notify,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({ 'state.$': '$', execution, params: { operation: 'failure' } }),
      resultPath: sfn.JsonPath.DISCARD,
      taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
    });
    for (const t of [notifyFailure, stopWatchdogAfterFailure]) {
      t.addRetry({
        errors: LAMBDA_TRANSIENT_ERRORS,
        interval: Duration.seconds(2),
        maxAttempts: 6,
        backoffRate: 2,
      });
    }
    // An alert that cannot be sent must not hide the failure: both go on to `Failed`, keeping $.error intact.
    notifyFailure.addCatch(stopWatchdogAfterFailure, { resultPath: '$.notifyError' });
    stopWatchdogAfterFailure.addCatch(failed, { resultPath: '$.watchdogError' });
    notifyFailure.next(stopWatchdogAfterFailure);
    stopWatchdogAfterFailure.next(failed);

    const stepPayload = (params: Record<string, unknown>) =>
      sfn.TaskInput.fromObject({
        'input.$': '$.input',
        'execution.$': '$.execution',
        'results.$': '$.results',
        params,
      });
    /** Where a Task's errors go: the failure path unless the step says otherwise (the report's warning). */
    interface OnError {
      next: sfn.IChainable;
      resultPath: string;
    }
    const withRetryAndCatch = <T extends sfn.TaskStateBase>(task: T, onError?: OnError): T => {
      task.addRetry({
        errors: LAMBDA_TRANSIENT_ERRORS,
        interval: Duration.seconds(2),
        maxAttempts: 6,
        backoffRate: 2,
      });
      task.addCatch(onError?.next ?? notifyFailure, {
        errors: ['States.ALL'],
        resultPath: onError?.resultPath ?? '$.error',
      });
      return task;
    };
    /** A Task state calling one step, its output at `$.results.<result>`. */
    const step = (
      name: string,
      fn: Exclude<StepName, 'ended'>,
      result: string,
      params: Record<string, unknown>,
      timeout: Duration,
      extraRetry?: (t: tasks.LambdaInvoke) => void,
      onError?: OnError,
    ): tasks.LambdaInvoke => {
      const task = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: fns[fn],
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        payload: stepPayload(params),
        resultPath: `$.results.${result}`,
        taskTimeout: sfn.Timeout.duration(timeout),
      });
      // Retriers are tried in order: the step's own (e.g. LockTimeoutError) come first.
      extraRetry?.(task);
      return withRetryAndCatch(task, onError);
    };
    const refuse = (name: string, error: string, cause: string): sfn.IChainable =>
      new sfn.Pass(this, name, {
        result: sfn.Result.fromObject({ Error: error, Cause: cause }),
        resultPath: '$.error',
      }).next(notifyFailure);
    const present = (path: string) => sfn.Condition.isPresent(path);
    const isTrue = (path: string) =>
      sfn.Condition.and(present(path), sfn.Condition.booleanEquals(path, true));
    const actionIs = (action: string) => sfn.Condition.stringEquals('$.input.action', action);

    // Fargate: the event travels in a container override; results stay out of it (overrides are capped at 8 KB).
    // apply and downgrade are the migrate step's operations (params.operation), its result at results.migrate.
    const fargateRun = (
      what: 'backup' | 'restore' | 'apply' | 'downgrade',
      name: string,
      params: Record<string, unknown>,
    ) => {
      const stepName = what === 'apply' || what === 'downgrade' ? 'migrate' : what;
      const prepare = new sfn.Pass(this, `Prepare Fargate ${what} event`, {
        parameters: { 'input.$': '$.input', 'execution.$': '$.execution', params },
        resultPath: '$.fargateEvent',
      });
      const run = new ScopedEcsRunTask(this, name, {
        integrationPattern: sfn.IntegrationPattern.RUN_JOB,
        cluster: props.fargate.cluster,
        taskDefinition: props.fargate.taskDefinition,
        launchTarget: new tasks.EcsFargateLaunchTarget(),
        subnets: { subnets: props.fargate.network.subnets },
        securityGroups: props.fargate.network.securityGroups,
        assignPublicIp: false,
        containerOverrides: [
          {
            containerDefinition: props.fargate.container,
            environment: [
              { name: 'PGSHIFT_STEP', value: stepName },
              {
                name: 'PGSHIFT_EVENT',
                value: sfn.JsonPath.jsonToString(sfn.JsonPath.objectAt('$.fargateEvent')),
              },
            ],
          },
        ],
        resultPath: sfn.JsonPath.DISCARD,
        taskTimeout: sfn.Timeout.duration(props.fargateTimeout ?? Duration.hours(12)),
      });
      run.addRetry({
        errors: ['ECS.AmazonECSException'],
        interval: Duration.seconds(10),
        maxAttempts: 3,
        backoffRate: 2,
      });
      run.addCatch(notifyFailure, { errors: ['States.ALL'], resultPath: '$.error' });
      const collect = step(
        `Read Fargate ${what} result`,
        'workflow',
        stepName,
        { operation: 'collect-task-result', step: stepName },
        Duration.minutes(1),
      );
      return { start: prepare.next(run).next(collect), end: collect };
    };

    // Success path.
    const done = new sfn.Succeed(this, 'Done');
    /**
     * An alert state: an alert problem never changes the run's outcome. The notify function returns its own
     * publish/schedule failures (ok: false, counted as AlertFailures); what it cannot return (a timeout, a
     * crash) is caught here into the state's result and the run goes on to `next`.
     */
    const alertStep = (name: string, result: string, operation: string, next: sfn.IChainable) => {
      const task = new tasks.LambdaInvoke(this, name, {
        lambdaFunction: fns.notify,
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        payload: stepPayload({ operation }),
        resultPath: `$.results.${result}`,
        taskTimeout: sfn.Timeout.duration(Duration.minutes(2)),
      });
      task.addRetry({
        errors: LAMBDA_TRANSIENT_ERRORS,
        interval: Duration.seconds(2),
        maxAttempts: 6,
        backoffRate: 2,
      });
      task.addCatch(next, { errors: ['States.ALL'], resultPath: `$.results.${result}` });
      return task.next(next);
    };
    const stopWatchdog = alertStep('Stop duration watchdog', 'watchdog', 'watchdog-stop', done);
    const notifySuccess = alertStep('Notify success', 'notify', 'success', stopWatchdog);
    // A report that cannot be written is a warning of a run whose work (backup, migrations, restore) succeeded;
    // only the report action, whose work is the report, fails on it.
    const reportFailed = new sfn.Choice(this, 'Report was the action?')
      .when(
        actionIs('report'),
        new sfn.Pass(this, 'Report failed: fail', { inputPath: '$.reportError', resultPath: '$.error' }).next(
          notifyFailure,
        ),
      )
      .otherwise(
        new sfn.Pass(this, 'Report failed: warn', {
          parameters: {
            step: 'report',
            ok: false,
            warning: "The report could not be written; the run's work succeeded.",
            'error.$': '$.reportError',
          },
          resultPath: '$.results.report',
        }).next(notifySuccess),
      );
    const writeReport = step('Write report', 'report', 'report', {}, Duration.minutes(3), undefined, {
      next: reportFailed,
      resultPath: '$.reportError',
    }).next(notifySuccess);

    // Shared states, routed on by action where branches part again.
    const lockRetry = props.lockRetry ?? { maxAttempts: 4, intervalSeconds: 15, backoffRate: 2 };
    const migrateTaskTimeout = (props.migrateTimeout ?? Duration.minutes(15)).plus(Duration.minutes(1));
    // apply/downgrade on Fargate: chosen up front (runner "fargate", or pre-flight's estimate), or after the
    // Lambda runner stopped between migrations (MigrationTimeBudgetError, its error kept at results.migrateStopped).
    const applyFargate = fargateRun('apply', 'Apply migrations (Fargate)', {
      operation: 'apply',
      runner: 'fargate',
    });
    const downgradeFargate = fargateRun('downgrade', 'Downgrade migrations (Fargate)', {
      operation: 'downgrade',
      runner: 'fargate',
    });
    // Added through `step`'s extraRetry hook, so this catcher comes before its States.ALL one.
    const continueOnFargate = (next: sfn.IChainable) => (t: tasks.LambdaInvoke) =>
      t.addCatch(next, { errors: ['MigrationTimeBudgetError'], resultPath: '$.results.migrateStopped' });
    const apply = step(
      'Apply migrations',
      'migrate',
      'migrate',
      { operation: 'apply' },
      migrateTaskTimeout,
      (t) => {
        // Only LockTimeoutError: PartialMigrationError (statements of a no-transaction migration ran) never is.
        t.addRetry({
          errors: ['LockTimeoutError'],
          interval: Duration.seconds(lockRetry.intervalSeconds),
          maxAttempts: lockRetry.maxAttempts,
          backoffRate: lockRetry.backoffRate,
          jitterStrategy: sfn.JitterType.FULL,
        });
        continueOnFargate(applyFargate.start)(t);
      },
    );
    const downgrade = step(
      'Downgrade migrations',
      'migrate',
      'migrate',
      { operation: 'downgrade' },
      migrateTaskTimeout,
      continueOnFargate(downgradeFargate.start),
    );
    const wantsFargate = sfn.Condition.and(
      present('$.input.runner'),
      sfn.Condition.stringEquals('$.input.runner', 'fargate'),
    );
    const applyRunner = new sfn.Choice(this, 'Apply runner?')
      .when(
        sfn.Condition.or(
          wantsFargate,
          sfn.Condition.and(
            present('$.results.preflight.applyRunner'),
            sfn.Condition.stringEquals('$.results.preflight.applyRunner', 'fargate'),
          ),
        ),
        applyFargate.start,
      )
      .otherwise(apply);
    const downgradeRunner = new sfn.Choice(this, 'Downgrade runner?')
      .when(wantsFargate, downgradeFargate.start)
      .otherwise(downgrade);
    const snapshotAfter = step(
      'Snapshot schema (after)',
      'schema',
      'snapshotAfter',
      { operation: 'snapshot', phase: 'after' },
      Duration.minutes(6),
    );
    const diff = step('Diff schema', 'schema', 'diff', { operation: 'diff' }, Duration.minutes(6)).next(
      writeReport,
    );
    snapshotAfter.next(
      new sfn.Choice(this, 'After the snapshot?').when(actionIs('baseline'), writeReport).otherwise(diff),
    );
    apply.next(snapshotAfter);
    downgrade.next(snapshotAfter);
    applyFargate.end.next(snapshotAfter);
    downgradeFargate.end.next(snapshotAfter);
    const snapshotBefore = step(
      'Snapshot schema (before)',
      'schema',
      'snapshotBefore',
      { operation: 'snapshot', phase: 'before' },
      Duration.minutes(6),
    );
    snapshotBefore.next(
      new sfn.Choice(this, 'After the snapshot (before)?')
        .when(actionIs('downgrade'), downgradeRunner)
        .when(isTrue('$.input.dryRun'), writeReport)
        .otherwise(applyRunner),
    );

    const afterBackup = new sfn.Choice(this, 'After the backup?')
      .when(actionIs('backup'), writeReport)
      .otherwise(snapshotBefore);
    const backupLambda = step('Back up database', 'backup', 'backup', {}, Duration.minutes(16)).next(
      afterBackup,
    );
    const backupFargate = fargateRun('backup', 'Back up database (Fargate)', {});
    backupFargate.end.next(afterBackup);
    const threshold = props.fargateThresholdBytes ?? 10 * 1024 ** 3;
    const runnerIs = (runner: 'lambda' | 'fargate') =>
      sfn.Condition.and(present('$.input.runner'), sfn.Condition.stringEquals('$.input.runner', runner));
    const above = (path: string) =>
      sfn.Condition.and(present(path), sfn.Condition.numberGreaterThan(path, threshold));
    /** The input's `runner` decides; without one, the measured size does (docs/workflow.md, "Runners"). */
    const runnerChoice = (
      name: string,
      sizePaths: string[],
      lambdaState: sfn.IChainable,
      fargate: sfn.IChainable,
    ) =>
      new sfn.Choice(this, name)
        .when(runnerIs('lambda'), lambdaState)
        .when(sfn.Condition.or(runnerIs('fargate'), ...sizePaths.map(above)), fargate)
        .otherwise(lambdaState);
    // migrate measured the database in its plan step; backup and downgrade measure it in `Measure database size`.
    const backupRunner = runnerChoice(
      'Backup runner?',
      ['$.results.size.databaseSizeBytes', '$.results.plan.databaseSizeBytes'],
      backupLambda,
      backupFargate.start,
    );
    const measureDatabase = step(
      'Measure database size',
      'preflight',
      'size',
      { operation: 'size' },
      Duration.minutes(2),
    ).next(backupRunner);

    // migrate (and preflight): plan → pre-flight → choices → backup …
    const unsafe = new sfn.Choice(this, 'Unsafe migrations?')
      .when(
        isTrue('$.results.plan.blocking'),
        refuse(
          'Refuse: unsafe migration',
          'UnsafeMigrationError',
          'Migrations have error-level lint findings; see the plan in the execution output (allowUnsafe overrides).',
        ),
      )
      .otherwise(backupRunner);
    const dryRun = new sfn.Choice(this, 'Dry run?')
      .when(isTrue('$.input.dryRun'), snapshotBefore)
      .otherwise(unsafe);
    const preflightPassed = new sfn.Choice(this, 'Pre-flight passed?')
      .when(sfn.Condition.and(isTrue('$.results.preflight.ok'), actionIs('preflight')), writeReport)
      .when(isTrue('$.results.preflight.ok'), dryRun)
      .otherwise(
        refuse(
          'Refuse: pre-flight failed',
          'PreflightFailedError',
          'Pre-flight checks failed; see results.preflight in the execution output.',
        ),
      );
    const plan = step(
      'Plan and lint migrations',
      'migrate',
      'plan',
      { operation: 'plan' },
      Duration.minutes(6),
    );
    plan
      .next(step('Pre-flight checks', 'preflight', 'preflight', {}, Duration.minutes(3)))
      .next(preflightPassed);

    // verify
    const verify = step(
      'Verify migrations',
      'migrate',
      'verify',
      { operation: 'verify' },
      Duration.minutes(6),
    );
    verify
      .next(step('Detect drift', 'schema', 'drift', { operation: 'drift' }, Duration.minutes(6)))
      .next(
        new sfn.Choice(this, 'Verified?')
          .when(sfn.Condition.and(isTrue('$.results.verify.ok'), isTrue('$.results.drift.ok')), writeReport)
          .otherwise(
            refuse(
              'Refuse: verification failed',
              'DriftDetectedError',
              'Applied migrations or the live schema differ from what was recorded; see results.verify and results.drift.',
            ),
          ),
      );

    // restore / cleanup / baseline
    const restoreLambda = step(
      'Restore database',
      'restore',
      'restore',
      { operation: 'restore' },
      Duration.minutes(16),
    ).next(writeReport);
    const restoreFargate = fargateRun('restore', 'Restore database (Fargate)', {
      operation: 'restore',
      runner: 'fargate',
    });
    restoreFargate.end.next(writeReport);
    const restoreRunner = runnerChoice(
      'Restore runner?',
      ['$.results.size.restoreSizeBytes'],
      restoreLambda,
      restoreFargate.start,
    );
    const measureRestore = step(
      'Measure restore size',
      'preflight',
      'size',
      { operation: 'size' },
      Duration.minutes(2),
    ).next(restoreRunner);
    const cleanup = step(
      'Clean up restore copies',
      'restore',
      'restore',
      { operation: 'cleanup' },
      Duration.minutes(6),
    ).next(notifySuccess);
    const baseline = step(
      'Baseline database',
      'migrate',
      'migrate',
      { operation: 'baseline' },
      Duration.minutes(3),
    ).next(snapshotAfter);

    const whichAction = new sfn.Choice(this, 'Which action?')
      .when(actionIs('migrate'), plan)
      .when(actionIs('preflight'), plan)
      .when(actionIs('backup'), measureDatabase)
      .when(actionIs('downgrade'), measureDatabase)
      .when(actionIs('report'), writeReport)
      .when(actionIs('verify'), verify)
      .when(actionIs('restore'), measureRestore)
      .when(actionIs('cleanup'), cleanup)
      .when(actionIs('baseline'), baseline)
      .otherwise(
        refuse(
          'Refuse: unknown action',
          'InputValidationError',
          'The validated input names an action this state machine has no branch for.',
        ),
      );

    const startWatchdog = alertStep('Start duration watchdog', 'watchdog', 'watchdog-start', whichAction);

    // The first state has no ResultPath: its output ({ input, execution, results: {} }) replaces the raw input.
    const validate = new tasks.LambdaInvoke(this, 'Validate input', {
      lambdaFunction: fns.workflow,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        'raw.$': '$',
        execution,
        'stateMachineArn.$': '$$.StateMachine.Id',
        params: { operation: 'validate' },
      }),
      taskTimeout: sfn.Timeout.duration(Duration.minutes(1)),
    });
    withRetryAndCatch(validate).next(startWatchdog);

    // Under /aws/vendedlogs/ (Step Functions log delivery keeps the account's CloudWatch Logs resource policy
    // small for that prefix), suffixed with the stack's id so a group retained from an earlier stack never blocks
    // a create; and deleted when the stack's creation rolls back (docs/decisions.md).
    const stackUuid = Fn.select(2, Fn.split('/', Stack.of(this).stackId));
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      logGroupName: `/aws/vendedlogs/states/${props.stateMachineName}-${stackUuid}`,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(validate),
      timeout: props.executionTimeout ?? Duration.hours(4),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: `pgshift: backups, linted migrations, schema diffs, reports, confirmed restores (${Stack.of(this).stackName})`,
    });
    const role = this.stateMachine.role;
    for (const fn of new Set(Object.values(fns))) {
      acknowledgeWildcardResource(
        role,
        `${fn.functionArn}:*`,
        'Added by LambdaInvoke: invoking versions/aliases of this one function.',
      );
    }
    // ecs:RunTask is on the task definition's revision (@aws-cdk/aws-stepfunctions-tasks:fixRunEcsTaskPolicy);
    // StopTask/DescribeTasks on the tasks of pgshift's own cluster (ScopedEcsRunTask).
    acknowledgeWildcardResource(
      role,
      ScopedEcsRunTask.clusterTasksArn(this, props.fargate.cluster.clusterName),
      "Task ARNs are made at run time; the wildcard covers only tasks in pgshift's own cluster (and ecs:cluster says so too).",
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing and CloudWatch Logs delivery actions support only Resource "*" (Step Functions logging and tracing).',
    });
  }
}
