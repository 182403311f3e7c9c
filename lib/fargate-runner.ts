import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag';
import type { FunctionNetwork } from './pgshift-function';

export interface FargateRunnerProps {
  readonly network: FunctionNetwork;
  /** The pg tools image (the same one the backup/restore functions run). */
  readonly image: ecs.ContainerImage;
  readonly bucket: s3.IBucket;
  readonly key: kms.IKey;
  /** Which prefixes the task reads, writes (backups, and `runs/` for its result) and deletes (a failed dump). */
  readonly access: { read: string[]; write: string[]; delete?: string[] };
  readonly databaseSecretArn: string;
  /** @default the AWS-managed key */
  readonly databaseSecretKmsKeyArn?: string;
  /** PGSHIFT_* configuration (never credentials). */
  readonly environment: Record<string, string>;
  /** @default 1024 */
  readonly cpu?: number;
  /** @default 4096 */
  readonly memoryMiB?: number;
  /**
   * Ephemeral storage. Backups and single-job restores stream, so Fargate's 21 GiB minimum is plenty for them; a
   * parallel restore (`restoreJobs`) downloads the dump here first (context `fargate.ephemeralStorageGiB`).
   * @default 21
   */
  readonly ephemeralStorageGiB?: number;
  /** @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Backups and restores of databases too large for Lambda's 15 minutes: an ECS cluster and a Fargate task
 * definition running the pg tools image with `node fargate/task.js`. The state machine starts it with the
 * `.sync` integration and names the step and event in container overrides.
 */
export class FargateRunner extends Construct {
  readonly cluster: ecs.Cluster;
  readonly taskDefinition: ecs.FargateTaskDefinition;
  readonly container: ecs.ContainerDefinition;
  readonly network: FunctionNetwork;

  constructor(scope: Construct, id: string, props: FargateRunnerProps) {
    super(scope, id);
    this.network = props.network;
    this.cluster = new ecs.Cluster(this, 'Cluster', {
      vpc: props.network.vpc,
      containerInsightsV2: ecs.ContainerInsights.ENABLED,
    });
    this.taskDefinition = new ecs.FargateTaskDefinition(this, 'Task', {
      cpu: props.cpu ?? 1024,
      memoryLimitMiB: props.memoryMiB ?? 4096,
      ephemeralStorageGiB: props.ephemeralStorageGiB,
      runtimePlatform: {
        cpuArchitecture: ecs.CpuArchitecture.X86_64,
        operatingSystemFamily: ecs.OperatingSystemFamily.LINUX,
      },
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    this.container = this.taskDefinition.addContainer('pgtools', {
      image: props.image,
      // The Lambda base image's entry point is the runtime interface client: run the task entry instead.
      entryPoint: ['node', '/var/task/fargate/task.js'],
      command: [],
      logging: ecs.LogDrivers.awsLogs({ streamPrefix: 'pgshift', logGroup }),
      environment: {
        ...props.environment,
        PGSHIFT_DB_SECRET_ARN: props.databaseSecretArn,
        PGSHIFT_BUCKET: props.bucket.bucketName,
        PGSHIFT_KMS_KEY_ID: props.key.keyArn,
        POWERTOOLS_SERVICE_NAME: 'pgshift-fargate',
        POWERTOOLS_METRICS_NAMESPACE: 'pgshift',
      },
      readonlyRootFilesystem: false,
    });

    this.grantDatabaseSecret(props);
    this.grantBucket(props);
    Validations.of(this.taskDefinition.obtainExecutionRole()).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'ecr:GetAuthorizationToken (pulling the image) supports only Resource "*".',
    });
    Validations.of(this.taskDefinition).acknowledge({
      id: 'AwsSolutions-ECS2',
      reason:
        'The environment holds configuration only (bucket, key ARN, secret ARN); credentials are read from Secrets Manager at run time.',
    });
  }

  /** Read the database's secret (and decrypt it with its customer-managed key, if any, through Secrets Manager). */
  private grantDatabaseSecret(props: FargateRunnerProps): void {
    const role = this.taskDefinition.taskRole;
    const secret = secretsmanager.Secret.fromSecretCompleteArn(
      this,
      'DatabaseSecret',
      props.databaseSecretArn,
    );
    secret.grantRead(role);
    if (props.databaseSecretKmsKeyArn) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [props.databaseSecretKmsKeyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      );
    }
  }

  /** The bucket's prefixes as `access` lists them, and the bucket key. */
  private grantBucket(props: FargateRunnerProps): void {
    const role = this.taskDefinition.taskRole;
    const { bucket, access } = props;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: access.read.map((p) => bucket.arnForObjects(`${p}*`)),
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': access.read.map((p) => `${p}*`) } },
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: access.write.map((p) => bucket.arnForObjects(`${p}*`)),
      }),
    );
    if (access.delete && access.delete.length > 0) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['s3:DeleteObject'],
          resources: access.delete.map((p) => bucket.arnForObjects(`${p}*`)),
        }),
      );
    }
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: [props.key.keyArn],
      }),
    );

    for (const p of new Set([...access.read, ...access.write])) {
      acknowledgeWildcardResource(
        role,
        bucket.arnForObjects(`${p}*`),
        `Object-level access is limited to the "${p}" prefix; keys below it are per database and run.`,
      );
    }
  }
}
