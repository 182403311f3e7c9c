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

/** Every Lambda Task's retry on Lambda's transient errors (steps, alerts, the failure path alike). */
const LAMBDA_RETRY: sfn.RetryProps = {
  errors: LAMBDA_TRANSIENT_ERRORS,
  interval: Duration.seconds(2),
  maxAttempts: 6,
  backoffRate: 2,
};

/** A function the state machine invokes (every step but `ended`, which no state calls). */
type StepFunctionName = Exclude<StepName, 'ended'>;

/** Where a Task's errors go: the failure path unless the step says otherwise (the report's warning). */
interface OnError {
  readonly next: sfn.IChainable;
  readonly resultPath: string;
}

interface StepOptions {
  /** Retriers and catchers of the step's own (e.g. LockTimeoutError), tried before the shared ones. */
  readonly ownHandlers?: (task: tasks.LambdaInvoke) => void;
  /** @default the failure path, the error at `$.error` */
  readonly onError?: OnError;
}

/**
 * Another backup of the same second took the backup's name (S3 refused to overwrite it): once more, a second
 * later, under the next free name. The backup step's and the restore's (whose pre-restore backup it was).
 */
function retryWhenBackupKeyTaken(task: tasks.LambdaInvoke): void {
  task.addRetry({ errors: ['BackupKeyTakenError'], interval: Duration.seconds(1), maxAttempts: 1 });
}

/** A Fargate run as states: `start` prepares the event and runs the task, `end` reads its result. */
interface FargateBranch {
  readonly start: sfn.Chain;
  readonly end: tasks.LambdaInvoke;
}

/** The states every action ends through on success: the report, then the success alert. */
interface SuccessPath {
  readonly writeReport: sfn.Chain;
  readonly notifySuccess: sfn.Chain;
}

/** The states the schema snapshots share between migrate, downgrade, dry run and baseline. */
interface MigrationStates {
  readonly snapshotBefore: tasks.LambdaInvoke;
  readonly snapshotAfter: tasks.LambdaInvoke;
}

/** Where apply and downgrade pick their runner (Lambda or Fargate). */
interface MigrationRunners {
  readonly applyRunner: sfn.Choice;
  readonly downgradeRunner: sfn.Choice;
}

/** The backup's entry points: by measured size (backup, downgrade) or by the plan's size (migrate). */
interface BackupStates {
  readonly measureDatabase: sfn.Chain;
  readonly backupRunner: sfn.Choice;
}

/** What a step receives: the run's input, execution and results so far, and the state's own params. */
const stepPayload = (params: Record<string, unknown>) =>
  sfn.TaskInput.fromObject({
    'input.$': '$.input',
    'execution.$': '$.execution',
    'results.$': '$.results',
    params,
  });

const present = (path: string) => sfn.Condition.isPresent(path);
const isTrue = (path: string) => sfn.Condition.and(present(path), sfn.Condition.booleanEquals(path, true));
const actionIs = (action: string) => sfn.Condition.stringEquals('$.input.action', action);
const runnerIs = (runner: 'lambda' | 'fargate') =>
  sfn.Condition.and(present('$.input.runner'), sfn.Condition.stringEquals('$.input.runner', runner));

/**
 * The Step Functions state machine of docs/workflow.md (state names, payloads, result names are that contract).
 * JSONPath only, no Assign, no Distributed Map: the local interpreter (aws-local-stepfunctions) runs this very
 * definition in the workflow tests.
 */
export class Workflow extends Construct {
  readonly stateMachine: sfn.StateMachine;
  private readonly props: WorkflowProps;
  private readonly execution: Record<'id' | 'name' | 'startTime', string>;
  private readonly notifyFailure: tasks.LambdaInvoke;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    this.props = props;
    this.execution = {
      id: sfn.JsonPath.stringAt('$$.Execution.Id'),
      name: sfn.JsonPath.stringAt('$$.Execution.Name'),
      startTime: sfn.JsonPath.stringAt('$$.Execution.StartTime'),
    };
    this.notifyFailure = this.failurePath();
    const success = this.successPath();
    const migration = this.migrationStates(success.writeReport);
    const backup = this.backupStates(success.writeReport, migration.snapshotBefore);
    const plan = this.planBranch(success.writeReport, migration.snapshotBefore, backup.backupRunner);
    const whichAction = new sfn.Choice(this, 'Which action?')
      .when(actionIs('migrate'), plan)
      .when(actionIs('preflight'), plan)
      .when(actionIs('backup'), backup.measureDatabase)
      .when(actionIs('downgrade'), backup.measureDatabase)
      .when(actionIs('report'), success.writeReport)
      .when(actionIs('verify'), this.verifyBranch(success.writeReport))
      .when(actionIs('restore'), this.restoreBranch(success.writeReport))
      .when(actionIs('cleanup'), this.cleanupBranch(success.notifySuccess))
      .when(actionIs('baseline'), this.baselineBranch(migration.snapshotAfter))
      .otherwise(
        this.refuse(
          'Refuse: unknown action',
          'InputValidationError',
          'The validated input names an action this state machine has no branch for.',
        ),
      );
    this.stateMachine = this.stateMachineOf(this.validateInput(whichAction));
    this.acknowledgeWildcards();
  }

  // Failure path: its payload carries the whole state, since after a failed `Validate input` there is no $.input.
  private failurePath(): tasks.LambdaInvoke {
    const failed = new sfn.Fail(this, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
    const failureAlert = (name: string, operation: string) => {
      const task = this.lambdaTask(
        name,
        this.props.functions.notify,
        sfn.TaskInput.fromObject({ 'state.$': '$', execution: this.execution, params: { operation } }),
        sfn.JsonPath.DISCARD,
        Duration.minutes(2),
      );
      task.addRetry(LAMBDA_RETRY);
      return task;
    };
    const stopWatchdogAfterFailure = failureAlert('Stop duration watchdog (after failure)', 'watchdog-stop');
    const notifyFailure = failureAlert('Notify failure', 'failure');
    // An alert that cannot be sent must not hide the failure: both go on to `Failed`, keeping $.error intact.
    notifyFailure.addCatch(stopWatchdogAfterFailure, { resultPath: '$.notifyError' });
    stopWatchdogAfterFailure.addCatch(failed, { resultPath: '$.watchdogError' });
    notifyFailure.next(stopWatchdogAfterFailure);
    stopWatchdogAfterFailure.next(failed);
    return notifyFailure;
  }

  /** A Lambda Task as every state here invokes one: the function's own response, retries added by the caller. */
  private lambdaTask(
    name: string,
    lambdaFunction: lambda.IFunction,
    payload: sfn.TaskInput,
    resultPath: string | undefined,
    timeout: Duration,
  ): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, name, {
      lambdaFunction,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload,
      resultPath,
      taskTimeout: sfn.Timeout.duration(timeout),
    });
  }

  private withRetryAndCatch<T extends sfn.TaskStateBase>(task: T, onError?: OnError): T {
    task.addRetry(LAMBDA_RETRY);
    task.addCatch(onError?.next ?? this.notifyFailure, {
      errors: ['States.ALL'],
      resultPath: onError?.resultPath ?? '$.error',
    });
    return task;
  }

  /** A Task state calling one step, its output at `$.results.<result>`. */
  private step(
    name: string,
    fn: StepFunctionName,
    result: string,
    params: Record<string, unknown>,
    timeout: Duration,
    options: StepOptions = {},
  ): tasks.LambdaInvoke {
    const task = this.lambdaTask(
      name,
      this.props.functions[fn],
      stepPayload(params),
      `$.results.${result}`,
      timeout,
    );
    // Retriers and catchers are tried in order: the step's own come first.
    options.ownHandlers?.(task);
    return this.withRetryAndCatch(task, options.onError);
  }

  private refuse(name: string, error: string, cause: string): sfn.IChainable {
    return new sfn.Pass(this, name, {
      result: sfn.Result.fromObject({ Error: error, Cause: cause }),
      resultPath: '$.error',
    }).next(this.notifyFailure);
  }

  // Fargate: the event travels in a container override; results stay out of it (overrides are capped at 8 KB).
  // apply and downgrade are the migrate step's operations (params.operation), its result at results.migrate.
  private fargateBranch(
    what: 'backup' | 'restore' | 'apply' | 'downgrade',
    name: string,
    params: Record<string, unknown>,
  ): FargateBranch {
    const fargate = this.props.fargate;
    const stepName = what === 'apply' || what === 'downgrade' ? 'migrate' : what;
    const prepare = new sfn.Pass(this, `Prepare Fargate ${what} event`, {
      parameters: { 'input.$': '$.input', 'execution.$': '$.execution', params },
      resultPath: '$.fargateEvent',
    });
    const run = new ScopedEcsRunTask(this, name, {
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      cluster: fargate.cluster,
      taskDefinition: fargate.taskDefinition,
      launchTarget: new tasks.EcsFargateLaunchTarget(),
      subnets: { subnets: fargate.network.subnets },
      securityGroups: fargate.network.securityGroups,
      assignPublicIp: false,
      containerOverrides: [
        {
          containerDefinition: fargate.container,
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
      taskTimeout: sfn.Timeout.duration(this.props.fargateTimeout ?? Duration.hours(12)),
    });
    run.addRetry({
      errors: ['ECS.AmazonECSException'],
      interval: Duration.seconds(10),
      maxAttempts: 3,
      backoffRate: 2,
    });
    run.addCatch(this.notifyFailure, { errors: ['States.ALL'], resultPath: '$.error' });
    const collect = this.step(
      `Read Fargate ${what} result`,
      'workflow',
      stepName,
      { operation: 'collect-task-result', step: stepName },
      Duration.minutes(1),
    );
    return { start: prepare.next(run).next(collect), end: collect };
  }

  /**
   * An alert state: an alert problem never changes the run's outcome. The notify function returns its own
   * publish/schedule failures (ok: false, counted as AlertFailures); what it cannot return (a timeout, a
   * crash) is caught here into the state's result and the run goes on to `next`.
   */
  private alertStep(name: string, result: string, operation: string, next: sfn.IChainable): sfn.Chain {
    const task = this.lambdaTask(
      name,
      this.props.functions.notify,
      stepPayload({ operation }),
      `$.results.${result}`,
      Duration.minutes(2),
    );
    task.addRetry(LAMBDA_RETRY);
    task.addCatch(next, { errors: ['States.ALL'], resultPath: `$.results.${result}` });
    return task.next(next);
  }

  private successPath(): SuccessPath {
    const done = new sfn.Succeed(this, 'Done');
    const stopWatchdog = this.alertStep('Stop duration watchdog', 'watchdog', 'watchdog-stop', done);
    const notifySuccess = this.alertStep('Notify success', 'notify', 'success', stopWatchdog);
    // A report that cannot be written is a warning of a run whose work (backup, migrations, restore) succeeded;
    // only the report action, whose work is the report, fails on it.
    const reportFailed = new sfn.Choice(this, 'Report was the action?')
      .when(
        actionIs('report'),
        new sfn.Pass(this, 'Report failed: fail', { inputPath: '$.reportError', resultPath: '$.error' }).next(
          this.notifyFailure,
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
    const writeReport = this.step('Write report', 'report', 'report', {}, Duration.minutes(3), {
      onError: { next: reportFailed, resultPath: '$.reportError' },
    }).next(notifySuccess);
    return { writeReport, notifySuccess };
  }

  // apply/downgrade on Fargate: chosen up front (runner "fargate", or pre-flight's estimate), or after the
  // Lambda runner stopped between migrations (MigrationTimeBudgetError, its error kept at results.migrateStopped).
  private migrationRunners(snapshotAfter: sfn.IChainable): MigrationRunners {
    const lockRetry = this.props.lockRetry ?? { maxAttempts: 4, intervalSeconds: 15, backoffRate: 2 };
    const migrateTaskTimeout = (this.props.migrateTimeout ?? Duration.minutes(15)).plus(Duration.minutes(1));
    const applyFargate = this.fargateBranch('apply', 'Apply migrations (Fargate)', {
      operation: 'apply',
      runner: 'fargate',
    });
    const downgradeFargate = this.fargateBranch('downgrade', 'Downgrade migrations (Fargate)', {
      operation: 'downgrade',
      runner: 'fargate',
    });
    // One of the step's own handlers, so this catcher comes before its States.ALL one.
    const continueOnFargate = (next: sfn.IChainable) => (t: tasks.LambdaInvoke) =>
      t.addCatch(next, { errors: ['MigrationTimeBudgetError'], resultPath: '$.results.migrateStopped' });
    const apply = this.step(
      'Apply migrations',
      'migrate',
      'migrate',
      { operation: 'apply' },
      migrateTaskTimeout,
      {
        ownHandlers: (t) => {
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
      },
    );
    const downgrade = this.step(
      'Downgrade migrations',
      'migrate',
      'migrate',
      { operation: 'downgrade' },
      migrateTaskTimeout,
      { ownHandlers: continueOnFargate(downgradeFargate.start) },
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
    for (const end of [apply, downgrade, applyFargate.end, downgradeFargate.end]) end.next(snapshotAfter);
    return { applyRunner, downgradeRunner };
  }

  private migrationStates(writeReport: sfn.IChainable): MigrationStates {
    const snapshotAfter = this.step(
      'Snapshot schema (after)',
      'schema',
      'snapshotAfter',
      { operation: 'snapshot', phase: 'after' },
      Duration.minutes(6),
    );
    const diff = this.step('Diff schema', 'schema', 'diff', { operation: 'diff' }, Duration.minutes(6)).next(
      writeReport,
    );
    snapshotAfter.next(
      new sfn.Choice(this, 'After the snapshot?').when(actionIs('baseline'), writeReport).otherwise(diff),
    );
    const { applyRunner, downgradeRunner } = this.migrationRunners(snapshotAfter);
    const snapshotBefore = this.step(
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
    return { snapshotBefore, snapshotAfter };
  }

  /** The input's `runner` decides; without one, the measured size does (docs/workflow.md, "Runners"). */
  private runnerChoice(
    name: string,
    sizePaths: string[],
    lambdaState: sfn.IChainable,
    fargate: sfn.IChainable,
  ): sfn.Choice {
    const threshold = this.props.fargateThresholdBytes ?? 10 * 1024 ** 3;
    const above = (path: string) =>
      sfn.Condition.and(present(path), sfn.Condition.numberGreaterThan(path, threshold));
    return new sfn.Choice(this, name)
      .when(runnerIs('lambda'), lambdaState)
      .when(sfn.Condition.or(runnerIs('fargate'), ...sizePaths.map(above)), fargate)
      .otherwise(lambdaState);
  }

  private backupStates(writeReport: sfn.IChainable, snapshotBefore: sfn.IChainable): BackupStates {
    const afterBackup = new sfn.Choice(this, 'After the backup?')
      .when(actionIs('backup'), writeReport)
      .otherwise(snapshotBefore);
    const backupLambda = this.step('Back up database', 'backup', 'backup', {}, Duration.minutes(16), {
      ownHandlers: retryWhenBackupKeyTaken,
    }).next(afterBackup);
    const backupFargate = this.fargateBranch('backup', 'Back up database (Fargate)', {});
    backupFargate.end.next(afterBackup);
    // migrate measured the database in its plan step; backup and downgrade measure it in `Measure database size`.
    const backupRunner = this.runnerChoice(
      'Backup runner?',
      ['$.results.size.databaseSizeBytes', '$.results.plan.databaseSizeBytes'],
      backupLambda,
      backupFargate.start,
    );
    const measureDatabase = this.step(
      'Measure database size',
      'preflight',
      'size',
      { operation: 'size' },
      Duration.minutes(2),
    ).next(backupRunner);
    return { measureDatabase, backupRunner };
  }

  // migrate (and preflight): plan → pre-flight → choices → backup …
  private planBranch(
    writeReport: sfn.IChainable,
    snapshotBefore: sfn.IChainable,
    backupRunner: sfn.IChainable,
  ): tasks.LambdaInvoke {
    const unsafe = new sfn.Choice(this, 'Unsafe migrations?')
      .when(
        isTrue('$.results.plan.blocking'),
        this.refuse(
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
        this.refuse(
          'Refuse: pre-flight failed',
          'PreflightFailedError',
          'Pre-flight checks failed; see results.preflight in the execution output.',
        ),
      );
    const plan = this.step(
      'Plan and lint migrations',
      'migrate',
      'plan',
      { operation: 'plan' },
      Duration.minutes(6),
    );
    plan
      .next(this.step('Pre-flight checks', 'preflight', 'preflight', {}, Duration.minutes(3)))
      .next(preflightPassed);
    return plan;
  }

  private verifyBranch(writeReport: sfn.IChainable): tasks.LambdaInvoke {
    const verify = this.step(
      'Verify migrations',
      'migrate',
      'verify',
      { operation: 'verify' },
      Duration.minutes(6),
    );
    verify
      .next(this.step('Detect drift', 'schema', 'drift', { operation: 'drift' }, Duration.minutes(6)))
      .next(
        new sfn.Choice(this, 'Verified?')
          .when(sfn.Condition.and(isTrue('$.results.verify.ok'), isTrue('$.results.drift.ok')), writeReport)
          .otherwise(
            this.refuse(
              'Refuse: verification failed',
              'DriftDetectedError',
              'Applied migrations or the live schema differ from what was recorded; see results.verify and results.drift.',
            ),
          ),
      );
    return verify;
  }

  private restoreBranch(writeReport: sfn.IChainable): sfn.Chain {
    const restoreLambda = this.step(
      'Restore database',
      'restore',
      'restore',
      { operation: 'restore' },
      Duration.minutes(16),
      // Its pre-restore backup is the restore's first write: when that lost its name, nothing was touched yet.
      { ownHandlers: retryWhenBackupKeyTaken },
    ).next(writeReport);
    const restoreFargate = this.fargateBranch('restore', 'Restore database (Fargate)', {
      operation: 'restore',
      runner: 'fargate',
    });
    restoreFargate.end.next(writeReport);
    const restoreRunner = this.runnerChoice(
      'Restore runner?',
      ['$.results.size.restoreSizeBytes'],
      restoreLambda,
      restoreFargate.start,
    );
    return this.step(
      'Measure restore size',
      'preflight',
      'size',
      { operation: 'size' },
      Duration.minutes(2),
    ).next(restoreRunner);
  }

  private cleanupBranch(notifySuccess: sfn.IChainable): sfn.Chain {
    return this.step(
      'Clean up restore copies',
      'restore',
      'restore',
      { operation: 'cleanup' },
      Duration.minutes(6),
    ).next(notifySuccess);
  }

  private baselineBranch(snapshotAfter: sfn.IChainable): sfn.Chain {
    return this.step(
      'Baseline database',
      'migrate',
      'migrate',
      { operation: 'baseline' },
      Duration.minutes(3),
    ).next(snapshotAfter);
  }

  // The first state has no ResultPath: its output ({ input, execution, results: {} }) replaces the raw input.
  private validateInput(whichAction: sfn.IChainable): tasks.LambdaInvoke {
    const startWatchdog = this.alertStep(
      'Start duration watchdog',
      'watchdog',
      'watchdog-start',
      whichAction,
    );
    const validate = this.lambdaTask(
      'Validate input',
      this.props.functions.workflow,
      sfn.TaskInput.fromObject({
        'raw.$': '$',
        execution: this.execution,
        'stateMachineArn.$': '$$.StateMachine.Id',
        params: { operation: 'validate' },
      }),
      undefined,
      Duration.minutes(1),
    );
    this.withRetryAndCatch(validate).next(startWatchdog);
    return validate;
  }

  // Under /aws/vendedlogs/ (Step Functions log delivery keeps the account's CloudWatch Logs resource policy
  // small for that prefix), suffixed with the stack's id so a group retained from an earlier stack never blocks
  // a create; and deleted when the stack's creation rolls back (docs/decisions.md).
  private stateMachineOf(start: sfn.IChainable): sfn.StateMachine {
    const stackUuid = Fn.select(2, Fn.split('/', Stack.of(this).stackId));
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: this.props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      logGroupName: `/aws/vendedlogs/states/${this.props.stateMachineName}-${stackUuid}`,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    return new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.props.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(start),
      timeout: this.props.executionTimeout ?? Duration.hours(4),
      tracingEnabled: true,
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
      comment: `pgshift: backups, linted migrations, schema diffs, reports, confirmed restores (${Stack.of(this).stackName})`,
    });
  }

  private acknowledgeWildcards(): void {
    const role = this.stateMachine.role;
    for (const fn of new Set(Object.values(this.props.functions))) {
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
      ScopedEcsRunTask.clusterTasksArn(this, this.props.fargate.cluster.clusterName),
      "Task ARNs are made at run time; the wildcard covers only tasks in pgshift's own cluster (and ecs:cluster says so too).",
    );
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing and CloudWatch Logs delivery actions support only Resource "*" (Step Functions logging and tracing).',
    });
  }
}
