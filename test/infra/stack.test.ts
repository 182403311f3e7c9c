import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { SAMPLE_CONTEXT } from '../../lib/context';
import { synth } from './helpers';
import { present } from '../helpers/present';

// One synth serves the assertions that need no special context.
const { template: t } = synth({
  alerts: { emails: ['dba@example.com'] },
  maintenanceWindows: [
    {
      name: 'nightly-backup',
      schedule: 'cron(0 3 * * ? *)',
      timezone: 'Europe/Paris',
      input: { action: 'backup' },
    },
    { name: 'sunday-migrate', schedule: 'cron(0 4 ? * SUN *)', input: { action: 'migrate' }, enabled: false },
  ],
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties are untyped JSON
function functionByStep(step: string): Record<string, any> {
  const fns = t.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ PGSHIFT_STEP: step }) } },
  });
  const list = Object.values(fns);
  expect(list).toHaveLength(1);
  return present(list[0], `the ${step} function`).Properties;
}

describe('backup bucket', () => {
  test('encrypts with its own customer-managed, rotating KMS key and a bucket key', () => {
    t.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      Description: 'pgshift backups, schemas and reports',
    });
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [
          Match.objectLike({
            ServerSideEncryptionByDefault: Match.objectLike({
              SSEAlgorithm: 'aws:kms',
              KMSMasterKeyID: Match.anyValue(),
            }),
            BucketKeyEnabled: true,
          }),
        ],
      },
    });
  });

  test('blocks public access, is versioned and is retained with the stack', () => {
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: Match.objectLike({ DestinationBucketName: Match.anyValue() }),
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      }),
    });
  });

  test('rejects non-TLS requests and puts that ask for other encryption or another key', () => {
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Sid: 'DenyPutWithOtherEncryption',
            Effect: 'Deny',
            Action: 's3:PutObject',
            // Only when the header is there: UploadPart carries none (an IfExists operator would deny it).
            Condition: {
              Null: { 's3:x-amz-server-side-encryption': 'false' },
              StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
            },
          }),
          Match.objectLike({
            Sid: 'DenyPutWithOtherKmsKey',
            Effect: 'Deny',
            Action: 's3:PutObject',
            Condition: {
              Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
              StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': Match.anyValue() },
            },
          }),
        ]),
      },
    });
  });

  test('moves backups to Glacier Instant Retrieval and expires them per the retention context', () => {
    const { template } = synth({
      backups: { glacierAfterDays: 14, expireAfterDays: 400, noncurrentExpireAfterDays: 7 },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({
            Status: 'Enabled',
            Prefix: 'backups/',
            Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 14 }],
            ExpirationInDays: 400,
          }),
          Match.objectLike({
            Status: 'Enabled',
            NoncurrentVersionExpiration: { NoncurrentDays: 7 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
          }),
        ]),
      },
    });
  });

  test('has no Object Lock by default, and Object Lock with default retention when configured', () => {
    const withoutLock = t.findResources('AWS::S3::Bucket', { Properties: { ObjectLockEnabled: true } });
    expect(Object.keys(withoutLock)).toHaveLength(0);
    const { template } = synth({
      backups: {
        glacierAfterDays: 30,
        expireAfterDays: 365,
        noncurrentExpireAfterDays: 30,
        objectLock: { mode: 'COMPLIANCE', days: 35 },
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 35 } },
      },
    });
  });

  test('access logs go to a private, TLS-only log bucket with its own expiry', () => {
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      LifecycleConfiguration: { Rules: [Match.objectLike({ ExpirationInDays: 365 })] },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
    });
  });
});

describe('functions', () => {
  test.each(['workflow', 'notify', 'migrate', 'preflight', 'report'])(
    '%s is a Node.js 24 x86_64 zip function with PGSHIFT_STEP, bucket and key configured',
    (step) => {
      const fn = functionByStep(step);
      expect(fn.Runtime).toBe('nodejs24.x');
      expect(fn.Architectures).toEqual(['x86_64']);
      expect(fn.Environment.Variables).toMatchObject({
        PGSHIFT_BUCKET: expect.anything(),
        PGSHIFT_KMS_KEY_ID: expect.anything(),
        PGSHIFT_DATABASE: 'app',
        POWERTOOLS_SERVICE_NAME: `pgshift-${step}`,
      });
      expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
    },
  );

  test.each(['backup', 'restore', 'schema'])(
    '%s runs the pg tools image with cmd <step>/handler.handler',
    (step) => {
      const fn = functionByStep(step);
      expect(fn.PackageType).toBe('Image');
      expect(fn.Architectures).toEqual(['x86_64']);
      expect(fn.ImageConfig).toEqual({ Command: [`${step}/handler.handler`] });
    },
  );

  test('steps that talk to the database run in its VPC with the configured security group; the others do not', () => {
    for (const step of ['migrate', 'preflight', 'report', 'schema', 'backup', 'restore']) {
      const fn = functionByStep(step);
      expect(fn.VpcConfig).toEqual({
        SubnetIds: SAMPLE_CONTEXT.network.subnetIds,
        SecurityGroupIds: [SAMPLE_CONTEXT.network.securityGroupId],
      });
      expect(fn.Environment.Variables).toMatchObject({
        PGSHIFT_DB_SECRET_ARN: SAMPLE_CONTEXT.database.secretArn,
        PGSHIFT_DB_HOST: SAMPLE_CONTEXT.database.host,
        PGSHIFT_DB_SSLMODE: 'verify-full',
      });
    }
    for (const step of ['workflow', 'notify']) {
      const fn = functionByStep(step);
      expect(fn.VpcConfig).toBeUndefined();
      expect(fn.Environment.Variables.PGSHIFT_DB_SECRET_ARN).toBeUndefined();
    }
  });

  test('no function environment carries a credential: only the secret ARN', () => {
    const fns = t.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(fns)) {
      const names = Object.keys(fn.Properties.Environment?.Variables ?? {});
      expect(names.filter((n) => /PASSWORD|DATABASE_URL|USER/i.test(n))).toEqual([]);
    }
  });

  test('timeouts and memory are sized per step', () => {
    expect(functionByStep('backup')).toMatchObject({ Timeout: 900, MemorySize: 3008 });
    expect(functionByStep('migrate')).toMatchObject({ Timeout: 900, MemorySize: 1024 });
    expect(functionByStep('workflow')).toMatchObject({ Timeout: 60, MemorySize: 256 });
  });

  test('the default statement_timeout ends a statement at least a minute before its Lambda would be killed', () => {
    const fns = Object.values(t.findResources('AWS::Lambda::Function'))
      .map((r) => r.Properties)
      // Only the steps that run migrations; pre-flight reads the value to estimate, it runs nothing under it.
      .filter(
        (p) =>
          p.Environment?.Variables?.PGSHIFT_STATEMENT_TIMEOUT &&
          p.Environment.Variables.PGSHIFT_STEP === 'migrate',
      );
    expect(fns.length).toBeGreaterThan(0);
    for (const fn of fns) {
      const m = /^(\d+)\s*(min|s)$/.exec(fn.Environment.Variables.PGSHIFT_STATEMENT_TIMEOUT);
      expect(m).not.toBeNull();
      const seconds = Number(m![1]) * (m![2] === 'min' ? 60 : 1);
      expect(seconds).toBeLessThanOrEqual(fn.Timeout - 60);
    }
  });

  test('migrate finds its migrations and Squawk in the bundle; preflight knows the image PG major', () => {
    expect(functionByStep('migrate').Environment.Variables).toMatchObject({
      // Relative to the task root: no '/var/task' literal for a file a function opens.
      PGSHIFT_MIGRATIONS_DIR: 'migrations',
      PGSHIFT_SQUAWK_BIN: 'bin/squawk',
    });
    expect(functionByStep('preflight').Environment.Variables.PGSHIFT_IMAGE_PG_MAJOR).toBe('17');
  });

  test('a missing migrations folder fails synth, naming the path and the context key; null ships none', () => {
    expect(() => synth({ migrationsDir: 'no/such/folder' })).toThrow(
      /migrations folder ".*no\/such\/folder" does not exist.*pgshift\.migrationsDir.*or to null/s,
    );
    expect(() => synth({ migrationsDir: null })).not.toThrow();
  });

  test("cdk.json's migrationsDir exists in the repository", () => {
    const cdkJson = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8'));
    const dir = cdkJson.context.pgshift.migrationsDir as string;
    expect(fs.existsSync(path.join(__dirname, '..', '..', dir))).toBe(true);
    expect(() => synth({ migrationsDir: dir })).not.toThrow();
  });

  test('every function logs to its own log group with the configured retention', () => {
    const { template } = synth({ logRetentionDays: 30 });
    const groups = template.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 30 } });
    // 9 functions + the Fargate task + the state machine
    expect(Object.keys(groups)).toHaveLength(11);
    const fns = template.findResources('AWS::Lambda::Function');
    for (const fn of Object.values(fns)) expect(fn.Properties.LoggingConfig?.LogGroup).toBeDefined();
  });

  test('the notify function gets the watchdog schedule group and scheduler role', () => {
    expect(functionByStep('notify').Environment.Variables).toMatchObject({
      PGSHIFT_TOPIC_ARN: expect.anything(),
      PGSHIFT_SCHEDULE_GROUP: expect.anything(),
      PGSHIFT_SCHEDULER_ROLE_ARN: expect.anything(),
      PGSHIFT_DURATION_WARNING_MINUTES: '60',
    });
  });
});

describe('least privilege', () => {
  const statements = (): { Action: string | string[]; Resource: unknown; Effect: string }[] =>
    Object.values(t.findResources('AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
  const actions = (s: { Action: string | string[] }) => (Array.isArray(s.Action) ? s.Action : [s.Action]);

  test('no policy grants a wildcard action on data (s3, secrets, sns); the only wildcard is kms:GenerateDataKey*', () => {
    const wildcards = new Set(
      statements()
        .flatMap(actions)
        .filter((a) => a.includes('*')),
    );
    expect([...wildcards].filter((a) => a !== 'kms:GenerateDataKey*')).toEqual([]);
  });

  test('nothing deletes but the backup cleanup (s3:DeleteObject on backups/, first-deploy.test.ts)', () => {
    const all = statements().flatMap(actions);
    expect(all.filter((a) => /^s3:Delete/.test(a) && a !== 's3:DeleteObject')).toEqual([]);
  });

  test('object access is limited to the prefixes each step owns', () => {
    const objectResources = statements()
      .filter((s) => actions(s).includes('s3:PutObject'))
      .flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]))
      .map((r) => JSON.stringify(r));
    expect(objectResources.length).toBeGreaterThan(0);
    for (const r of objectResources) expect(r).toMatch(/\/(backups|plans|schemas|diffs|reports|runs)\/\*/);
  });

  test('the workflow function may list executions of this state machine only', () => {
    const listing = statements().filter((s) => actions(s).includes('states:ListExecutions'));
    expect(listing).toHaveLength(1);
    expect(JSON.stringify(listing[0]?.Resource)).toContain(
      ':states:eu-west-1:123456789012:stateMachine:Test-pgshift',
    );
    const describing = statements().filter((s) => actions(s).includes('states:DescribeExecution'));
    expect(describing).toHaveLength(1);
    expect(JSON.stringify(describing[0]?.Resource)).toContain(
      ':states:eu-west-1:123456789012:execution:Test-pgshift:*',
    );
  });
});

describe('alerts', () => {
  test('the topic is KMS-encrypted and TLS-only, with the email subscriptions from context', () => {
    t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    t.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'dba@example.com' });
  });

  test('Slack via AWS Chatbot only when configured', () => {
    t.resourceCountIs('AWS::Chatbot::SlackChannelConfiguration', 0);
    const { template } = synth({
      alerts: { emails: [], slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' } },
    });
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SlackWorkspaceId: 'T0123ABCD',
      SlackChannelId: 'C0123ABCD',
      SnsTopicArns: [Match.anyValue()],
    });
  });

  test('an EventBridge rule sends FAILED, TIMED_OUT and ABORTED executions of this state machine to the ended function', () => {
    const ended = Object.entries(t.findResources('AWS::Lambda::Function')).find(
      ([, r]) => r.Properties.Environment?.Variables?.PGSHIFT_STEP === 'ended',
    );
    expect(ended).toBeDefined();
    t.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [Match.anyValue()] },
      },
      Targets: [
        Match.objectLike({ Arn: { 'Fn::GetAtt': [ended?.[0], 'Arn'] }, RetryPolicy: Match.anyValue() }),
      ],
    });
    // EventBridge may invoke it, from this rule only.
    t.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [ended?.[0], 'Arn'] },
      SourceArn: Match.anyValue(),
    });
  });

  test('no ExecutionTime alarm: it is emitted only after an execution ended, the watchdog says "still running"', () => {
    t.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  test('the topic policy names exactly the publishing roles, and the key policy names no service', () => {
    const policies = Object.values(t.findResources('AWS::SNS::TopicPolicy'));
    expect(policies).toHaveLength(1);
    const statements = present(policies[0], 'the topic policy').Properties.PolicyDocument.Statement as {
      Sid?: string;
      Effect: string;
      Principal: { AWS?: unknown[]; Service?: unknown };
    }[];
    const allow = statements.filter((s) => s.Effect === 'Allow');
    expect(allow).toHaveLength(1);
    const [allowed] = allow;
    expect(present(allowed, 'an Allow statement').Principal.Service).toBeUndefined();
    const named = JSON.stringify(allowed?.Principal.AWS);
    const roleOf = (step: string) =>
      Object.values(t.findResources('AWS::Lambda::Function')).find(
        (r) => r.Properties.Environment?.Variables?.PGSHIFT_STEP === step,
      )?.Properties.Role['Fn::GetAtt'][0] as string;
    const schedulerRole = Object.keys(t.findResources('AWS::IAM::Role')).find((id) =>
      id.includes('SchedulerRole'),
    );
    for (const id of [roleOf('notify'), roleOf('ended'), schedulerRole]) expect(named).toContain(`"${id}"`);
    expect(allowed?.Principal.AWS).toHaveLength(3);
    for (const k of Object.values(t.findResources('AWS::KMS::Key'))) {
      expect(JSON.stringify(k.Properties.KeyPolicy)).not.toMatch(
        /events\.amazonaws\.com|cloudwatch\.amazonaws\.com/,
      );
    }
  });

  test('the Chatbot Slack configuration subscribes to the alerts topic', () => {
    const { template } = synth({
      alerts: { emails: [], slack: { workspaceId: 'T0123ABCD', channelId: 'C0123ABCD' } },
    });
    const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    template.hasResourceProperties('AWS::Chatbot::SlackChannelConfiguration', {
      SnsTopicArns: [{ Ref: topicId }],
    });
  });
});

describe('maintenance windows and Fargate', () => {
  test('each window is a Scheduler schedule in its time zone, starting the state machine with its input', () => {
    t.resourceCountIs('AWS::Scheduler::Schedule', 2);
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 * * ? *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      State: 'ENABLED',
      Target: Match.objectLike({ Arn: Match.anyValue(), Input: JSON.stringify({ action: 'backup' }) }),
    });
    t.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 4 ? * SUN *)',
      State: 'DISABLED',
    });
  });

  test('the Fargate task runs the same image, x86_64, with the task entry point and container insights', () => {
    t.hasResourceProperties('AWS::ECS::TaskDefinition', {
      RequiresCompatibilities: ['FARGATE'],
      Cpu: '1024',
      Memory: '4096',
      RuntimePlatform: { CpuArchitecture: 'X86_64', OperatingSystemFamily: 'LINUX' },
      ContainerDefinitions: [
        Match.objectLike({
          EntryPoint: ['node', '/var/task/fargate/task.js'],
          Environment: Match.anyValue(),
        }),
      ],
    });
    t.hasResourceProperties('AWS::ECS::Cluster', {
      ClusterSettings: [{ Name: 'containerInsights', Value: 'enabled' }],
    });
  });

  test("the task's ephemeral storage is the context's fargate.ephemeralStorageGiB (21-200 GiB)", () => {
    const fargate = { cpu: 1024, memoryMiB: 4096, timeoutMinutes: 720 };
    synth({ fargate: { ...fargate, ephemeralStorageGiB: 120 } }).template.hasResourceProperties(
      'AWS::ECS::TaskDefinition',
      { EphemeralStorage: { SizeInGiB: 120 } },
    );
    expect(() => synth({ fargate: { ...fargate, ephemeralStorageGiB: 10 } })).toThrow(
      /fargate\.ephemeralStorageGiB/,
    );
  });

  test('outputs StateMachineArn and BucketName for the CLI', () => {
    t.hasOutput('StateMachineArn', { Value: Match.anyValue() });
    t.hasOutput('BucketName', { Value: Match.anyValue() });
  });
});
