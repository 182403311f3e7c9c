import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { BackupBucket } from './backup-bucket';
import { squawkBinary } from './bundled-files';
import {
  copyIntoBundle,
  executionRole,
  PgshiftFunction,
  type PgshiftFunctionProps,
  type BucketAccess,
  type FunctionNetwork,
  type StepName,
} from './pgshift-function';
import { acknowledgeWildcardResource } from './nag';

/**
 * Where a function may put the step outputs that do not fit the workflow state (lambdas/shared/step-budget.ts):
 * `runs/<db>/<execution>/outputs/<step>…`, each function only its own step's.
 */
export function spillPrefix(step: StepName): string {
  return `runs/*/outputs/${step}`;
}

/**
 * Which S3 prefixes each step reads and writes (docs/infrastructure.md). A step that needs a new prefix gets it
 * here, and only here.
 */
export const BUCKET_ACCESS: Record<StepName | 'fargate', BucketAccess> = {
  workflow: { read: ['runs/'], write: [spillPrefix('workflow')] },
  // Alert markers (runs/<db>/<execution>/alerts/): notify writes them, the ended function reads (and writes) them.
  notify: { read: ['reports/'], write: ['runs/'] },
  ended: { read: ['runs/'], write: ['runs/'] },
  // bundles/: the migrations an execution names (`migrations.bundle`); read only, CI writes them.
  migrate: { read: ['plans/', 'schemas/', 'bundles/'], write: ['plans/', spillPrefix('migrate')] },
  // The plan's analyses, when they did not fit the state, are read from the migrate function's spill.
  preflight: { read: ['plans/', 'backups/', spillPrefix('migrate')], write: [spillPrefix('preflight')] },
  schema: { read: ['schemas/', 'diffs/'], write: ['schemas/', 'diffs/', spillPrefix('schema')] },
  report: {
    read: ['plans/', 'schemas/', 'diffs/', 'backups/', 'runs/', 'reports/'],
    write: ['reports/', spillPrefix('report')],
  },
  // Taking a backup deletes its own dump when the manifest cannot be written (restore takes one first).
  backup: { read: ['backups/'], write: ['backups/', spillPrefix('backup')], delete: ['backups/'] },
  restore: { read: ['backups/'], write: ['backups/', spillPrefix('restore')], delete: ['backups/'] },
  // Backup and restore; apply/downgrade read a migrations bundle and downgrade writes its SQL under plans/.
  fargate: { read: ['backups/', 'bundles/'], write: ['backups/', 'runs/', 'plans/'], delete: ['backups/'] },
};

/** Where the migrate code finds its migrations and Squawk, relative to the task root (function and Fargate task). */
export const MIGRATE_TASK_FILES = { PGSHIFT_MIGRATIONS_DIR: 'migrations', PGSHIFT_SQUAWK_BIN: 'bin/squawk' };

/**
 * What apply/downgrade on Lambda keep free before the function's deadline: a tenth of its timeout, between 5 s
 * and 60 s (a cancelled statement's rollback, recording, unlocking and returning take seconds, not minutes).
 */
export function applyTimeMarginSeconds(timeout: Duration): number {
  return Math.min(60, Math.max(5, Math.floor(timeout.toSeconds() / 10)));
}

/** How the functions reach the database: only the secret's ARN travels, never a credential. */
export interface DatabaseSettings {
  readonly secretArn: string;
  /** Customer-managed KMS key of the secret. @default the AWS-managed key (no extra grant needed) */
  readonly secretKmsKeyArn?: string;
  /** @default the secret's `host` */
  readonly host?: string;
  /** @default the secret's `port` */
  readonly port?: number;
  /** @default the secret's `dbname` */
  readonly name?: string;
  /** @default "verify-full" (lambdas/shared/db.ts) */
  readonly sslMode?: string;
  /** RDS instance whose FreeStorageSpace pre-flight reads. @default none: the disk check says skipped */
  readonly rdsInstanceId?: string;
  /** Aurora cluster whose writer's FreeLocalStorage pre-flight reads. @default none */
  readonly rdsClusterId?: string;
}

export interface StepLambdasProps {
  readonly backups: BackupBucket;
  readonly topic: sns.ITopic;
  readonly database: DatabaseSettings;
  /** Logical database name (PGSHIFT_DATABASE). */
  readonly databaseName: string;
  readonly network: FunctionNetwork;
  /** The pg tools image (lambdas/image/Dockerfile) for backup, restore and schema; `cmd` is set per step. */
  readonly image: (cmd: string[]) => lambda.DockerImageCode;
  /** PG_MAJOR the image was built with; preflight compares it to the server's (PGSHIFT_IMAGE_PG_MAJOR). */
  readonly imagePgMajor: number;
  /**
   * Migration files folder, relative to the repository root, bundled into the migrate function; `null` ships
   * none. @default "migrations"
   */
  readonly migrationsDir?: string | null;
  /** @default "5s" */
  readonly lockTimeout?: string;
  /** @default "13min" */
  readonly statementTimeout?: string;
  /** @default "1" */
  readonly backupCompression?: string;
  /** The migrate function's timeout (apply/downgrade on Lambda stop between migrations before it). @default 15 minutes */
  readonly migrateTimeout?: Duration;
  /** How long a Fargate apply may run (the Fargate state's timeout); pre-flight refuses longer estimates. @default 12 hours */
  readonly fargateTimeout?: Duration;
  /**
   * Reserved concurrency of migrate and restore (opt-in: accounts with a low concurrency quota refuse it).
   * @default none (unreserved; `Validate input` and the advisory lock refuse concurrent runs)
   */
  readonly reservedConcurrency?: number;
  readonly logRetention?: logs.RetentionDays;
  /** The watchdog: schedule group and the role the scheduler assumes to publish "still running". */
  readonly watchdog: {
    readonly scheduleGroupName: string;
    readonly schedulerRole: iam.IRole;
    readonly warningMinutes: number;
  };
}

/** A step function's props, less what StepLambdas sets for every one (step, log retention, node code by default). */
type StepFunctionOptions = Omit<PgshiftFunctionProps, 'step' | 'logRetention' | 'code'> & {
  readonly code?: PgshiftFunctionProps['code'];
  /** In the database's VPC, with its secret and connection settings. @default false */
  readonly database?: boolean;
};

/**
 * The steps' Lambda functions (not the state machine: lib/workflow.ts builds that). Its construct id stays
 * "Steps", so the functions' logical ids did not change when it was renamed from StepFunctions.
 * NodejsFunction for workflow, notify, ended, migrate, preflight and report; the pg tools image
 * for backup, restore and schema. Sizing: steps that stream dumps get memory (CPU and network scale with it)
 * and the 15-minute maximum; apply and restore get reserved concurrency only when asked (`reservedConcurrency`).
 * Only steps that talk to the database sit in its VPC.
 */
export class StepLambdas extends Construct {
  readonly byStep: Record<StepName, PgshiftFunction>;
  private readonly props: StepLambdasProps;
  private readonly secret: secretsmanager.ISecret;

  constructor(scope: Construct, id: string, props: StepLambdasProps) {
    super(scope, id);
    this.props = props;
    this.secret = secretsmanager.Secret.fromSecretCompleteArn(
      this,
      'DatabaseSecret',
      props.database.secretArn,
    );
    const { workflow, notify, ended } = this.workflowAndAlertFunctions();
    const migrateTimeout = props.migrateTimeout ?? Duration.minutes(15);
    const migrate = this.migrateFunction(migrateTimeout);
    const preflight = this.preflightFunction(migrateTimeout);
    const report = this.make('report', { database: true, memorySize: 512, timeout: Duration.minutes(2) });
    const image = (step: StepName) => ({
      kind: 'image' as const,
      image: props.image([`${step}/handler.handler`]),
    });
    const schema = this.make('schema', {
      database: true,
      code: image('schema'),
      memorySize: 1024,
      timeout: Duration.minutes(5),
    });
    const backup = this.make('backup', {
      database: true,
      code: image('backup'),
      memorySize: 3008,
      timeout: Duration.minutes(15),
      environment: { PGSHIFT_BACKUP_COMPRESSION: props.backupCompression ?? '1' },
    });
    const restore = this.make('restore', {
      database: true,
      code: image('restore'),
      memorySize: 3008,
      timeout: Duration.minutes(15),
      reservedConcurrentExecutions: props.reservedConcurrency,
      environment: { PGSHIFT_BACKUP_COMPRESSION: props.backupCompression ?? '1' },
    });
    this.byStep = { workflow, notify, migrate, preflight, schema, report, backup, restore, ended };
  }

  private make(step: StepName, options: StepFunctionOptions): PgshiftFunction {
    const props = this.props;
    const fn = new PgshiftFunction(this, step.charAt(0).toUpperCase() + step.slice(1), {
      ...options,
      step,
      logRetention: props.logRetention,
      code: options.code ?? { kind: 'node' },
      network: options.database ? props.network : undefined,
    });
    fn.addEnvironment('PGSHIFT_DATABASE', props.databaseName);
    fn.bindBucket(props.backups.bucket, props.backups.key, BUCKET_ACCESS[step]);
    if (options.database) {
      fn.bindSecret(
        props.database.secretArn,
        (g) => this.secret.grantRead(g),
        props.database.secretKmsKeyArn,
      );
      const db = props.database;
      if (db.host) fn.addEnvironment('PGSHIFT_DB_HOST', db.host);
      if (db.port !== undefined) fn.addEnvironment('PGSHIFT_DB_PORT', String(db.port));
      if (db.name) fn.addEnvironment('PGSHIFT_DB_NAME', db.name);
      if (db.sslMode) fn.addEnvironment('PGSHIFT_DB_SSLMODE', db.sslMode);
      fn.addEnvironment('PGSHIFT_LOCK_TIMEOUT', props.lockTimeout ?? '5s');
      fn.addEnvironment('PGSHIFT_STATEMENT_TIMEOUT', props.statementTimeout ?? '13min');
    }
    return fn;
  }

  private workflowAndAlertFunctions(): Record<'workflow' | 'notify' | 'ended', PgshiftFunction> {
    const { topic, watchdog } = this.props;
    const workflow = this.make('workflow', { memorySize: 256, timeout: Duration.seconds(60) });
    const notify = this.make('notify', { memorySize: 256, timeout: Duration.seconds(60) }).bindTopic(topic);
    notify
      .addEnvironment('PGSHIFT_SCHEDULE_GROUP', watchdog.scheduleGroupName)
      .addEnvironment('PGSHIFT_SCHEDULER_ROLE_ARN', watchdog.schedulerRole.roleArn)
      .addEnvironment('PGSHIFT_DURATION_WARNING_MINUTES', String(watchdog.warningMinutes));
    // On the EventBridge rule: alerts what the state machine cannot catch and deletes the watchdog.
    const ended = this.make('ended', { memorySize: 256, timeout: Duration.seconds(60) }).bindTopic(topic);
    ended.addEnvironment('PGSHIFT_SCHEDULE_GROUP', watchdog.scheduleGroupName);
    return { workflow, notify, ended };
  }

  private migrateFunction(migrateTimeout: Duration): PgshiftFunction {
    const migrationsDir = this.props.migrationsDir === undefined ? 'migrations' : this.props.migrationsDir;
    return this.make('migrate', {
      database: true,
      memorySize: 1024,
      timeout: migrateTimeout,
      reservedConcurrentExecutions: this.props.reservedConcurrency,
      // Relative to the task root (LAMBDA_TASK_ROOT): lambdas/shared/config.ts and the lint code resolve them.
      environment: {
        ...MIGRATE_TASK_FILES,
        PGSHIFT_APPLY_TIME_MARGIN_SECONDS: String(applyTimeMarginSeconds(migrateTimeout)),
      },
      code: {
        kind: 'node',
        // Squawk's binary, libpg-query's WebAssembly (loaded from the bundle's directory) and the migrations.
        afterBundling: (inputDir, outputDir) => {
          const copies = copyIntoBundle(outputDir, () => ({
            'bin/squawk': squawkBinary(),
            'libpg-query.wasm': path.join(inputDir, 'node_modules/libpg-query/wasm/libpg-query.wasm'),
          }));
          const migrations = migrationsDir === null ? undefined : path.posix.join(inputDir, migrationsDir);
          return [
            ...copies,
            `chmod 755 "${outputDir}/bin/squawk"`,
            `mkdir -p "${outputDir}/migrations"`,
            ...(migrations ? [`cp -R "${migrations}/." "${outputDir}/migrations/"`] : []),
          ];
        },
      },
    });
  }

  private preflightFunction(migrateTimeout: Duration): PgshiftFunction {
    const { database, fargateTimeout, imagePgMajor } = this.props;
    const preflight = this.make('preflight', {
      database: true,
      memorySize: 512,
      timeout: Duration.minutes(2),
      environment: {
        PGSHIFT_IMAGE_PG_MAJOR: String(imagePgMajor),
        // The apply's runners: what the migrations' estimated time must fit in, Lambda's first, then Fargate's.
        PGSHIFT_APPLY_TIME_BUDGET_SECONDS: String(migrateTimeout.toSeconds()),
        PGSHIFT_APPLY_TIME_MARGIN_SECONDS: String(applyTimeMarginSeconds(migrateTimeout)),
        PGSHIFT_FARGATE_TIME_BUDGET_SECONDS: String((fargateTimeout ?? Duration.hours(12)).toSeconds()),
        ...(database.rdsInstanceId ? { PGSHIFT_RDS_INSTANCE_ID: database.rdsInstanceId } : {}),
        ...(database.rdsClusterId ? { PGSHIFT_RDS_CLUSTER_ID: database.rdsClusterId } : {}),
      },
    });
    if (database.rdsInstanceId || database.rdsClusterId) {
      preflight.function.addToRolePolicy(
        new iam.PolicyStatement({ actions: ['cloudwatch:GetMetricData'], resources: ['*'] }),
      );
      acknowledgeWildcardResource(
        executionRole(preflight.function),
        '*',
        'cloudwatch:GetMetricData supports no resource-level permissions (AWS service authorization reference); ' +
          'it is read-only and grants metric values, not data.',
      );
    }
    return preflight;
  }

  /** The underlying Lambda function of a step. */
  fn(step: StepName): lambda.IFunction {
    return this.byStep[step].function;
  }
}
