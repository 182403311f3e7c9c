import * as path from 'node:path';
import { AssetStaging, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { RDS_CA_BUNDLE_IN_ASSET, rdsCaBundleFile } from './bundled-files';
import { acknowledgeWildcardAction, acknowledgeWildcardResource } from './nag';

/** The step modules (`lambdas/<step>/handler.ts`); PGSHIFT_STEP tells the local runner which one a function is. */
export type StepName =
  'workflow' | 'notify' | 'migrate' | 'preflight' | 'schema' | 'report' | 'backup' | 'restore' | 'ended';

/** The Lambda runtime of the zip functions; the image's Node.js major matches it (lambdas/image/Dockerfile). */
export const NODE_RUNTIME = lambda.Runtime.NODEJS_24_X;
/** Squawk ships only a linux-x64 binary, so every function (and the image) is x86_64. */
export const ARCHITECTURE = lambda.Architecture.X86_64;

/** The repository root: NodejsFunction entries and the image's build context are relative to it. */
export const REPO_ROOT = path.resolve(__dirname, '..');

/** esbuild settings shared by the zip functions and the image's handlers (lib/pg-tools-image.ts). */
export const BUNDLING = {
  target: 'node24',
  sourceMap: true,
  // The map locates each frame (NODE_OPTIONS=--enable-source-maps); the sources' full text, 60 % of its
  // bytes, is never read on Lambda, yet every cold start parses it and keeps it in memory.
  sourcesContent: false,
  minify: true,
  keepNames: true,
  // Bundle the SDK we test with rather than the runtime's (whose version moves under us).
  externalModules: new Array<string>(),
} as const;

/**
 * Shell commands that copy files into a bundle's output, for NodejsFunction's afterBundling hook. CDK also calls
 * the hook with Docker's paths when it prepares a Docker fallback: pgshift bundles locally only, so that variant
 * fails loudly instead of shipping an asset without its files.
 */
export function copyIntoBundle(outputDir: string, files: () => Record<string, string>): string[] {
  if (outputDir === AssetStaging.BUNDLING_OUTPUT_DIR) {
    return [
      'echo "pgshift bundles without Docker: run npm ci so esbuild is installed locally" >&2',
      'exit 1',
    ];
  }
  return Object.entries(files()).flatMap(([rel, from]) => [
    `mkdir -p "${path.posix.dirname(path.posix.join(outputDir, rel))}"`,
    `cp "${from}" "${path.posix.join(outputDir, rel)}"`,
  ]);
}

/** The execution role of a function pgshift created (CDK gives every function it creates without one a role). */
export function executionRole(fn: lambda.IFunction): iam.IRole {
  if (!fn.role) throw new Error(`pgshift: the function ${fn.node.path} has no execution role`);
  return fn.role;
}

/** Where a function sits in the network: the database's VPC, its subnets and the security group it may use. */
export interface FunctionNetwork {
  readonly vpc: ec2.IVpc;
  readonly subnets: ec2.ISubnet[];
  readonly securityGroups: ec2.ISecurityGroup[];
}

/** Object access by key prefix (a folder ending with `/`, or a pattern where `*` stands for any characters, as IAM reads it). */
export interface BucketAccess {
  /** GetObject, and ListBucket under these prefixes. @default none */
  readonly read?: string[];
  /** PutObject and AbortMultipartUpload. @default none */
  readonly write?: string[];
  /** DeleteObject (a delete marker: versions stay until the lifecycle expires them). @default none */
  readonly delete?: string[];
}

export interface PgshiftFunctionProps {
  readonly step: StepName;
  /**
   * How the code is packaged: `node` bundles `lambdas/<step>/handler.ts` with esbuild (no Docker); `image` runs
   * the pg tools image with `cmd: ['<step>/handler.handler']`.
   */
  readonly code:
    | { readonly kind: 'node'; readonly afterBundling?: (inputDir: string, outputDir: string) => string[] }
    | { readonly kind: 'image'; readonly image: lambda.DockerImageCode };
  /** @default 256 MiB */
  readonly memorySize?: number;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency (opt-in for apply and restore: new accounts' quota of 10 or 50 refuses any).
   * @default none (unreserved)
   */
  readonly reservedConcurrentExecutions?: number;
  /** Network placement; steps that never talk to the database stay outside the VPC. @default outside any VPC */
  readonly network?: FunctionNetwork;
  /** Log retention. @default RetentionDays.THREE_MONTHS */
  readonly logRetention?: logs.RetentionDays;
  /** Extra environment (never credentials). @default none */
  readonly environment?: Record<string, string>;
}

/**
 * One pgshift step as a Lambda function: fixed runtime/architecture, source maps, an explicit log group with
 * retention, Powertools settings, PGSHIFT_STEP. The `bind*` methods set the environment variable and grant
 * the matching IAM together, so a grant is never forgotten or doubled.
 */
export class PgshiftFunction extends Construct {
  readonly function: lambda.Function;
  readonly step: StepName;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: PgshiftFunctionProps) {
    super(scope, id);
    this.step = props.step;
    // Kept when the stack is updated or deleted, removed when its creation rolls back (no orphan to clean up).
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
    });
    const common = {
      architecture: ARCHITECTURE,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.seconds(30),
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      logGroup: this.logGroup,
      tracing: lambda.Tracing.ACTIVE,
      environment: {
        PGSHIFT_STEP: props.step,
        POWERTOOLS_SERVICE_NAME: `pgshift-${props.step}`,
        POWERTOOLS_METRICS_NAMESPACE: 'pgshift',
        POWERTOOLS_LOG_LEVEL: 'INFO',
        ...props.environment,
      },
      ...(props.network
        ? {
            vpc: props.network.vpc,
            vpcSubnets: { subnets: props.network.subnets },
            securityGroups: props.network.securityGroups,
          }
        : {}),
    };
    if (props.code.kind === 'node') {
      const extra = props.code.afterBundling;
      // Every zip function connects with TLS: the RDS CA bundle goes into each asset (lambdas/shared/db.ts).
      const afterBundling = (inputDir: string, outputDir: string): string[] => [
        ...copyIntoBundle(outputDir, () => ({ [RDS_CA_BUNDLE_IN_ASSET]: rdsCaBundleFile() })),
        ...(extra ? extra(inputDir, outputDir) : []),
      ];
      this.function = new nodejs.NodejsFunction(this, 'Function', {
        ...common,
        runtime: NODE_RUNTIME,
        entry: path.join(REPO_ROOT, 'lambdas', props.step, 'handler.ts'),
        handler: 'handler',
        projectRoot: REPO_ROOT,
        depsLockFilePath: path.join(REPO_ROOT, 'package-lock.json'),
        environment: { ...common.environment, NODE_OPTIONS: '--enable-source-maps' },
        bundling: {
          ...BUNDLING,
          externalModules: [...BUNDLING.externalModules],
          forceDockerBundling: false,
          commandHooks: { beforeBundling: () => [], beforeInstall: () => [], afterBundling },
        },
      });
    } else {
      this.function = new lambda.DockerImageFunction(this, 'Function', { ...common, code: props.code.image });
    }
    const role = executionRole(this.function);
    const managed = props.network
      ? ['AWSLambdaBasicExecutionRole', 'AWSLambdaVPCAccessExecutionRole']
      : ['AWSLambdaBasicExecutionRole'];
    for (const name of managed) {
      Validations.of(role).acknowledge({
        id: `AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/${name}]`,
        reason: `${name} is Lambda's own minimal policy for logs${props.network ? ' and VPC network interfaces' : ''}.`,
      });
    }
    // X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray tracing actions (xray:PutTraceSegments, xray:PutTelemetryRecords) support only Resource "*".',
    });
  }

  /** Sets an environment variable (never a credential). */
  addEnvironment(name: string, value: string): this {
    this.function.addEnvironment(name, value);
    return this;
  }

  /**
   * PGSHIFT_BUCKET + PGSHIFT_KMS_KEY_ID and exactly the object actions on the given prefixes: GetObject to read,
   * PutObject/AbortMultipartUpload to write, DeleteObject only where a step removes its own failed output
   * (retention is the lifecycle's job), ListBucket limited to the read prefixes, and the KMS actions SSE-KMS needs.
   */
  bindBucket(bucket: s3.IBucket, key: kms.IKey, access: BucketAccess): this {
    this.addEnvironment('PGSHIFT_BUCKET', bucket.bucketName);
    this.addEnvironment('PGSHIFT_KMS_KEY_ID', key.keyArn);
    const read = access.read ?? [];
    const write = access.write ?? [];
    const remove = access.delete ?? [];
    const statements: iam.PolicyStatement[] = [];
    if (read.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['s3:GetObject'],
          resources: read.map((p) => bucket.arnForObjects(`${p}*`)),
        }),
        new iam.PolicyStatement({
          actions: ['s3:ListBucket'],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { 's3:prefix': read.map((p) => `${p}*`) } },
        }),
      );
    }
    if (write.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
          resources: write.map((p) => bucket.arnForObjects(`${p}*`)),
        }),
      );
    }
    if (remove.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          actions: ['s3:DeleteObject'],
          resources: remove.map((p) => bucket.arnForObjects(`${p}*`)),
        }),
      );
    }
    // Decrypt reads objects and completes multipart uploads; GenerateDataKey encrypts new ones.
    statements.push(
      new iam.PolicyStatement({
        actions: write.length > 0 ? ['kms:Decrypt', 'kms:GenerateDataKey'] : ['kms:Decrypt'],
        resources: [key.keyArn],
      }),
    );
    for (const s of statements) this.function.addToRolePolicy(s);
    for (const p of new Set([...read, ...write])) {
      acknowledgeWildcardResource(
        executionRole(this.function),
        bucket.arnForObjects(`${p}*`),
        `Object-level access is limited to the "${p}" prefix this step owns; keys below it are per run.`,
      );
    }
    return this;
  }

  /** PGSHIFT_DB_SECRET_ARN and read access to that one secret (and its KMS key, if customer-managed). */
  bindSecret(secretArn: string, grant: (grantee: iam.IGrantable) => void, secretKmsKeyArn?: string): this {
    this.addEnvironment('PGSHIFT_DB_SECRET_ARN', secretArn);
    grant(this.function);
    if (secretKmsKeyArn) {
      this.function.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [secretKmsKeyArn],
          conditions: {
            StringEquals: { 'kms:ViaService': `secretsmanager.${Stack.of(this).region}.amazonaws.com` },
          },
        }),
      );
    }
    return this;
  }

  /** PGSHIFT_TOPIC_ARN and publish on that topic (with its key). */
  bindTopic(topic: sns.ITopic): this {
    this.addEnvironment('PGSHIFT_TOPIC_ARN', topic.topicArn);
    topic.grantPublish(this.function);
    acknowledgeWildcardAction(
      executionRole(this.function),
      'kms:GenerateDataKey*',
      "Added by topic.grantPublish for the topic's KMS key, and limited to that one key.",
    );
    return this;
  }
}
