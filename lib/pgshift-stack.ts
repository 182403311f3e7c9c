import * as fs from 'node:fs';
import * as path from 'node:path';
import { Annotations, ArnFormat, CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { Alerts } from './alerts';
import { BackupBucket } from './backup-bucket';
import { parsePgshiftContext, SAMPLE_CONTEXT, type PgshiftContext } from './context';
import { FargateRunner } from './fargate-runner';
import { GithubCiRole } from './github-ci-role';
import { MaintenanceWindows } from './maintenance-windows';
import { acknowledgeWildcardResource } from './nag';
import { PgToolsImage } from './pg-tools-image';
import { executionRole, REPO_ROOT, type FunctionNetwork, type StepName } from './pgshift-function';
import { BUCKET_ACCESS, MIGRATE_TASK_FILES, StepLambdas } from './step-lambdas';
import { PgshiftVpcEndpoints } from './vpc-endpoints';
import { Workflow } from './workflow';

export interface PgshiftStackProps extends StackProps {
  /** The validated `pgshift` context. @default the documented sample (synthesizes; not deployable as is) */
  readonly config?: PgshiftContext;
}

/** `workflow.reservedConcurrency` as a number of executions: `true` is 1, `false` none. */
function reservedConcurrency(value: boolean | number): number | undefined {
  if (value === false) return undefined;
  return value === true ? 1 : value;
}

/** `logRetentionDays` as CDK's enum (the context accepts only the values CloudWatch Logs does). */
function logRetentionOf(config: PgshiftContext): logs.RetentionDays {
  const days = config.logRetentionDays;
  const retention = Object.values(logs.RetentionDays).find(
    (v): v is logs.RetentionDays => typeof v !== 'string' && v.valueOf() === days,
  );
  if (retention === undefined)
    throw new Error(`pgshift: logRetentionDays ${days} is no CloudWatch Logs retention`);
  return retention;
}

const migrateTimeoutOf = (config: PgshiftContext) => Duration.seconds(config.workflow.migrateTimeoutSeconds);
const fargateTimeoutOf = (config: PgshiftContext) => Duration.minutes(config.fargate.timeoutMinutes);

/** The migrations folder (relative to the repository), refused at synth when it does not exist. */
function requireMigrationsDir(migrationsDir: string | null): string | null {
  if (migrationsDir !== null && !fs.existsSync(path.join(REPO_ROOT, migrationsDir))) {
    throw new Error(
      `pgshift: the migrations folder "${path.join(REPO_ROOT, migrationsDir)}" does not exist, so the migrate ` +
        `function would ship no migrations. Set the context key pgshift.migrationsDir (cdk.json) to your ` +
        `migrations folder, relative to ${REPO_ROOT}, or to null to deploy without migrations.`,
    );
  }
  return migrationsDir;
}

/** Wires pgshift's constructs together. No business logic here: that lives in lambdas/. */
export class PgshiftStack extends Stack {
  readonly backups: BackupBucket;
  readonly alerts: Alerts;
  readonly functions: StepLambdas;
  readonly fargate: FargateRunner;
  readonly workflow: Workflow;
  readonly maintenance: MaintenanceWindows;
  /** The GitHub Actions role, with context `ci.githubOidc` (docs/ci.md). */
  readonly ci?: GithubCiRole;

  constructor(scope: Construct, id: string, props: PgshiftStackProps = {}) {
    super(scope, id, props);
    // Access logs are delivered under a bucket policy, not the legacy LogDeliveryWrite ACL (ACLs stay disabled).
    this.node.setContext('@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy', true);
    const config = props.config ?? parsePgshiftContext(SAMPLE_CONTEXT);
    const stateMachineName = `${this.stackName}-pgshift`;

    this.backups = new BackupBucket(this, 'Backups', {
      glacierAfterDays: config.backups.glacierAfterDays,
      expireAfterDays: config.backups.expireAfterDays,
      noncurrentExpireAfterDays: config.backups.noncurrentExpireAfterDays,
      objectLock: config.backups.objectLock,
    });
    this.alerts = new Alerts(this, 'Alerts', {
      emails: config.alerts.emails,
      slack: config.alerts.slack,
      durationWarning: Duration.minutes(config.workflow.durationWarningMinutes),
    });
    const network = this.importNetwork(config);
    const migrationsDir = requireMigrationsDir(config.migrationsDir);
    // One image for backup, restore and schema (Lambda) and the Fargate task (which also applies migrations).
    const image = new PgToolsImage(this, 'PgTools', {
      pgMajor: config.pgMajor,
      migrationsDir: migrationsDir === null ? null : path.join(REPO_ROOT, migrationsDir),
    }).asset;
    this.functions = this.stepLambdas(config, network, image);
    this.fargate = this.fargateRunner(config, network, image);
    this.workflow = this.workflowOf(config, stateMachineName);
    const stateMachine = this.workflow.stateMachine;
    this.alerts.watch(stateMachine, this.functions.fn('ended'), [
      this.functions.fn('notify'),
      this.functions.fn('ended'),
    ]);
    this.grantLockCheck(stateMachineName);
    this.grantWatchdog();
    this.maintenance = new MaintenanceWindows(this, 'MaintenanceWindows', {
      stateMachine,
      windows: config.maintenanceWindows,
    });
    this.ci = this.githubCi(config, stateMachine, stateMachineName);
    this.outputs(stateMachine);
  }

  /** The database's network, imported without lookups (synth needs no credentials). */
  private importNetwork(config: PgshiftContext): FunctionNetwork {
    const net = config.network;
    const vpc = ec2.Vpc.fromVpcAttributes(this, 'Vpc', {
      vpcId: net.vpcId,
      availabilityZones:
        net.availabilityZones ?? net.subnetIds.map((_, i) => `${this.region}${'abcdef'[i % 6]}`),
    });
    const network = {
      vpc,
      subnets: net.subnetIds.map((sid, i) => {
        const subnet = ec2.Subnet.fromSubnetId(this, `Subnet${i}`, sid);
        Annotations.of(subnet).acknowledgeWarning(
          '@aws-cdk/aws-ec2:noSubnetRouteTableId',
          'pgshift only places functions and tasks in the subnet; it never reads its route table.',
        );
        return subnet;
      }),
      securityGroups: [
        ec2.SecurityGroup.fromSecurityGroupId(this, 'SecurityGroup', net.securityGroupId, { mutable: false }),
      ],
    };
    this.openDatabaseAndEndpoints(config, network);
    return network;
  }

  /** Database ingress and VPC endpoints, both opt-in (docs/deploy.md, "Network"). */
  private openDatabaseAndEndpoints(config: PgshiftContext, network: FunctionNetwork): void {
    const net = config.network;
    if (net.databaseSecurityGroupId) {
      ec2.SecurityGroup.fromSecurityGroupId(this, 'DatabaseSecurityGroup', net.databaseSecurityGroupId, {
        mutable: true,
      }).addIngressRule(
        ec2.Peer.securityGroupId(net.securityGroupId),
        ec2.Port.tcp(config.database.port ?? 5432),
        'PostgreSQL from the pgshift functions and Fargate task',
      );
    }
    if (net.createEndpoints && net.routeTableIds) {
      const diskCheck = Boolean(config.database.rdsInstanceId || config.database.rdsClusterId);
      new PgshiftVpcEndpoints(this, 'Endpoints', {
        vpc: network.vpc,
        subnets: network.subnets,
        clientSecurityGroupId: net.securityGroupId,
        routeTableIds: net.routeTableIds,
        services: [
          'secretsmanager',
          'ecr.api',
          'ecr.dkr',
          'logs',
          ...(diskCheck ? (['monitoring'] as const) : []),
        ],
      });
    }
  }

  private stepLambdas(
    config: PgshiftContext,
    network: FunctionNetwork,
    image: DockerImageAsset,
  ): StepLambdas {
    return new StepLambdas(this, 'Steps', {
      backups: this.backups,
      topic: this.alerts.topic,
      database: config.database,
      databaseName: config.databaseName,
      network,
      image: (cmd) => lambda.DockerImageCode.fromEcr(image.repository, { tagOrDigest: image.imageTag, cmd }),
      imagePgMajor: config.pgMajor,
      migrationsDir: config.migrationsDir,
      lockTimeout: config.workflow.lockTimeout,
      statementTimeout: config.workflow.statementTimeout,
      backupCompression: config.workflow.backupCompression,
      migrateTimeout: migrateTimeoutOf(config),
      fargateTimeout: fargateTimeoutOf(config),
      reservedConcurrency: reservedConcurrency(config.workflow.reservedConcurrency),
      logRetention: logRetentionOf(config),
      watchdog: {
        scheduleGroupName: this.alerts.scheduleGroup.scheduleGroupName,
        schedulerRole: this.alerts.schedulerRole,
        warningMinutes: config.workflow.durationWarningMinutes,
      },
    });
  }

  private fargateRunner(
    config: PgshiftContext,
    network: FunctionNetwork,
    image: DockerImageAsset,
  ): FargateRunner {
    const db = config.database;
    return new FargateRunner(this, 'Fargate', {
      network,
      image: ecs.ContainerImage.fromDockerImageAsset(image),
      bucket: this.backups.bucket,
      key: this.backups.key,
      access: {
        read: BUCKET_ACCESS.fargate.read ?? [],
        write: BUCKET_ACCESS.fargate.write ?? [],
        delete: BUCKET_ACCESS.fargate.delete,
      },
      databaseSecretArn: db.secretArn,
      databaseSecretKmsKeyArn: db.secretKmsKeyArn,
      environment: {
        PGSHIFT_DATABASE: config.databaseName,
        PGSHIFT_BACKUP_COMPRESSION: config.workflow.backupCompression,
        ...MIGRATE_TASK_FILES,
        PGSHIFT_LOCK_TIMEOUT: config.workflow.lockTimeout,
        PGSHIFT_STATEMENT_TIMEOUT: config.workflow.statementTimeout,
        ...(db.host ? { PGSHIFT_DB_HOST: db.host } : {}),
        ...(db.port !== undefined ? { PGSHIFT_DB_PORT: String(db.port) } : {}),
        ...(db.name ? { PGSHIFT_DB_NAME: db.name } : {}),
        ...(db.sslMode ? { PGSHIFT_DB_SSLMODE: db.sslMode } : {}),
      },
      cpu: config.fargate.cpu,
      memoryMiB: config.fargate.memoryMiB,
      ephemeralStorageGiB: config.fargate.ephemeralStorageGiB,
      logRetention: logRetentionOf(config),
    });
  }

  private workflowOf(config: PgshiftContext, stateMachineName: string): Workflow {
    const fn = (step: Exclude<StepName, 'ended'>) => this.functions.fn(step);
    return new Workflow(this, 'Workflow', {
      functions: {
        workflow: fn('workflow'),
        notify: fn('notify'),
        migrate: fn('migrate'),
        preflight: fn('preflight'),
        schema: fn('schema'),
        report: fn('report'),
        backup: fn('backup'),
        restore: fn('restore'),
      },
      fargate: this.fargate,
      stateMachineName,
      fargateThresholdBytes: config.workflow.fargateThresholdBytes,
      executionTimeout: Duration.minutes(config.workflow.executionTimeoutMinutes),
      lockRetry: config.workflow.lockRetry,
      migrateTimeout: migrateTimeoutOf(config),
      fargateTimeout: fargateTimeoutOf(config),
      logRetention: logRetentionOf(config),
    });
  }

  /**
   * The lock check at start: the workflow function lists this state machine's RUNNING executions. The ARN is
   * built from the fixed name, as referencing the state machine would make a dependency cycle.
   */
  private grantLockCheck(stateMachineName: string): void {
    const stateMachineArn = this.formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    // DescribeExecution reads each running execution's input to see which database it works on.
    const executionsArn = this.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const workflowFn = this.functions.fn('workflow');
    workflowFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [stateMachineArn] }),
    );
    workflowFn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:DescribeExecution'], resources: [executionsArn] }),
    );
    acknowledgeWildcardResource(
      executionRole(workflowFn),
      executionsArn,
      "Execution ARNs are made at start time; the wildcard covers only this state machine's executions.",
    );
  }

  /** The watchdog: one-time schedules in its own group, passing only the scheduler role. */
  private grantWatchdog(): void {
    const notify = this.functions.fn('notify');
    const scheduleArn = this.formatArn({
      service: 'scheduler',
      resource: 'schedule',
      resourceName: `${this.alerts.scheduleGroup.scheduleGroupName}/*`,
    });
    notify.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['scheduler:CreateSchedule', 'scheduler:DeleteSchedule'],
        resources: [scheduleArn],
      }),
    );
    notify.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.alerts.schedulerRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
      }),
    );
    acknowledgeWildcardResource(
      executionRole(notify),
      scheduleArn,
      "Watchdog schedules are created per execution (names unknown in advance), only inside pgshift's own schedule group.",
    );
    // The ended function only deletes a watchdog (an execution that ended where no Catch could see it).
    const ended = this.functions.fn('ended');
    ended.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['scheduler:DeleteSchedule'], resources: [scheduleArn] }),
    );
    acknowledgeWildcardResource(
      executionRole(ended),
      scheduleArn,
      "Deletes the per-execution watchdog schedule (named from the execution ARN), only inside pgshift's own group.",
    );
  }

  /** The GitHub Actions role and its output, with context `ci.githubOidc`. */
  private githubCi(
    config: PgshiftContext,
    stateMachine: sfn.IStateMachine,
    stateMachineName: string,
  ): GithubCiRole | undefined {
    const github = config.ci.githubOidc;
    if (!github) return undefined;
    // The session lasts as long as an execution may, so `pgshift start --wait` is not cut off (IAM: 1-12 h).
    const sessionMinutes = Math.min(720, Math.max(60, config.workflow.executionTimeoutMinutes));
    const ci = new GithubCiRole(this, 'GithubCi', {
      owner: github.owner,
      repo: github.repo,
      branch: github.branch,
      oidcProviderArn: github.providerArn,
      stateMachine,
      stateMachineName,
      bucket: this.backups.bucket,
      key: this.backups.key,
      maxSessionDuration: Duration.minutes(sessionMinutes),
    });
    new CfnOutput(this, 'CiRoleArn', { key: 'CiRoleArn', value: ci.role.roleArn });
    return ci;
  }

  private outputs(stateMachine: sfn.IStateMachine): void {
    new CfnOutput(this, 'StateMachineArn', { key: 'StateMachineArn', value: stateMachine.stateMachineArn });
    new CfnOutput(this, 'BucketName', { key: 'BucketName', value: this.backups.bucket.bucketName });
    // `pgshift bundle` / `start --migrations` name this key (the bucket policy refuses any other).
    new CfnOutput(this, 'BucketKeyArn', { key: 'BucketKeyArn', value: this.backups.key.keyArn });
    new CfnOutput(this, 'TopicArn', { key: 'TopicArn', value: this.alerts.topic.topicArn });
  }
}
