import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { REPO_ROOT } from '../../lib/pgshift-function';
import { INTERFACE_ENDPOINTS } from '../../lib/vpc-endpoints';
import { synth } from './helpers';
import { present } from '../helpers/present';

// What a first `cdk deploy` into an existing VPC needs, and what lets a failed one be retried.
const { template: t } = synth();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties are untyped JSON
function functionByStep(template: typeof t, step: string): Record<string, any> {
  const fns = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ PGSHIFT_STEP: step }) } },
  });
  const list = Object.values(fns);
  expect(list).toHaveLength(1);
  return present(list[0], `the ${step} function`).Properties;
}

const workflowContext = parsePgshiftContext(SAMPLE_CONTEXT).workflow;

describe('reserved concurrency', () => {
  test('is off by default: accounts with a concurrency quota of 10 or 50 refuse any reservation', () => {
    for (const fn of Object.values(t.findResources('AWS::Lambda::Function'))) {
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
    }
  });

  test('workflow.reservedConcurrency: true reserves 1 for migrate and restore, a number reserves that many', () => {
    const on = synth({ workflow: { ...workflowContext, reservedConcurrency: true } }).template;
    expect(functionByStep(on, 'migrate').ReservedConcurrentExecutions).toBe(1);
    expect(functionByStep(on, 'restore').ReservedConcurrentExecutions).toBe(1);
    expect(functionByStep(on, 'backup').ReservedConcurrentExecutions).toBeUndefined();
    const three = synth({ workflow: { ...workflowContext, reservedConcurrency: 3 } }).template;
    expect(functionByStep(three, 'migrate').ReservedConcurrentExecutions).toBe(3);
  });

  test('a reservation below 1 is refused at synth, naming the field', () => {
    expect(() =>
      parsePgshiftContext({ ...SAMPLE_CONTEXT, workflow: { ...workflowContext, reservedConcurrency: 0 } }),
    ).toThrow(/pgshift\.workflow\.reservedConcurrency/);
  });
});

describe('log groups survive a failed first deploy', () => {
  test('every log group is deleted when the stack creation rolls back, and retained on update or delete', () => {
    const groups = Object.values(t.findResources('AWS::Logs::LogGroup'));
    // One per function (8 steps + ended), the Fargate task's and the state machine's.
    expect(groups.length).toBe(11);
    for (const g of groups) {
      expect(g.DeletionPolicy).toBe('RetainExceptOnCreate');
      expect(g.UpdateReplacePolicy).toBe('Retain');
    }
  });

  test("the state machine's log group is under /aws/vendedlogs/states/ and unique per stack (its stack id), so a retained one never blocks the next create", () => {
    const sm = t.findResources('AWS::StepFunctions::StateMachine');
    const machine = present(Object.values(sm)[0], 'the state machine');
    const arn = machine.Properties.LoggingConfiguration.Destinations[0].CloudWatchLogsLogGroup.LogGroupArn;
    const [logicalId] = arn['Fn::GetAtt'];
    const group = t.toJSON().Resources[logicalId];
    const name = JSON.stringify(group.Properties.LogGroupName);
    expect(name).toContain('/aws/vendedlogs/states/Test-pgshift-');
    expect(name).toContain('"Ref":"AWS::StackId"');
  });
});

describe('feature flags', () => {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context: Record<string, unknown>;
  };
  const recommended = JSON.parse(
    fs.readFileSync(require.resolve('aws-cdk-lib/recommended-feature-flags.json'), 'utf8'),
  ) as Record<string, unknown>;

  test('cdk.json sets every flag the installed aws-cdk-lib recommends (what `cdk init` writes), at that value', () => {
    const missing = Object.keys(recommended).filter(
      (flag) => JSON.stringify(cdkJson.context[flag]) !== JSON.stringify(recommended[flag]),
    );
    expect(missing).toEqual([]);
  });

  test("the tests synthesize with cdk.json's context, flags included", () => {
    const { stack } = synth();
    for (const flag of Object.keys(recommended)) {
      expect([flag, stack.node.tryGetContext(flag)]).toEqual([flag, recommended[flag]]);
    }
  });
});

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: Record<string, Record<string, unknown>>;
}
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The Allow statements that grant `action` to the role whose logical id starts with `rolePrefix` (or any role). */
function grants(template: typeof t, action: string, rolePrefix = ''): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => asList(p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref.startsWith(rolePrefix)))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
    .filter((s) => s.Effect === 'Allow' && asList(s.Action).includes(action));
}

describe('IAM, per action', () => {
  test('the state machine passes the Fargate roles to ECS tasks only (iam:PassedToService)', () => {
    const passRole = grants(t, 'iam:PassRole', 'WorkflowStateMachineRole');
    expect(passRole.length).toBeGreaterThan(0);
    for (const s of passRole) {
      expect(s.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      const roles = JSON.stringify(s.Resource);
      expect(roles).toContain('FargateTaskTaskRole');
      expect(roles).toContain('FargateTaskExecutionRole');
    }
  });

  test('the state machine keeps what the .sync integration needs: ecs:RunTask on the task definition, the managed rule', () => {
    const run = grants(t, 'ecs:RunTask', 'WorkflowStateMachineRole');
    expect(run.map((s) => JSON.stringify(s.Resource))).toEqual([expect.stringContaining('FargateTask')]);
    for (const action of ['events:PutTargets', 'events:PutRule', 'events:DescribeRule']) {
      const rule = grants(t, action, 'WorkflowStateMachineRole');
      expect([action, JSON.stringify(rule.map((s) => s.Resource))]).toEqual([
        action,
        expect.stringContaining('rule/StepFunctionsGetEventsForECSTaskRule'),
      ]);
    }
  });

  test.each(['ecs:StopTask', 'ecs:DescribeTasks'])(
    '%s is limited to tasks in pgshift’s cluster, not "*"',
    (action) => {
      const statements = grants(t, action, 'WorkflowStateMachineRole');
      expect(statements.length).toBeGreaterThan(0);
      for (const s of statements) {
        for (const r of asList(s.Resource)) {
          expect(r).not.toBe('*');
          expect(JSON.stringify(r)).toMatch(/:task\/".*FargateCluster.*"\/\*/);
        }
        expect(JSON.stringify(s.Condition?.ArnEquals?.['ecs:cluster'])).toContain('FargateCluster');
      }
    },
  );

  test('the notify function may create and delete watchdog schedules, and nothing may GetSchedule (never called)', () => {
    expect(grants(t, 'scheduler:CreateSchedule', 'StepsNotify')).toHaveLength(1);
    expect(grants(t, 'scheduler:DeleteSchedule', 'StepsNotify')).toHaveLength(1);
    expect(grants(t, 'scheduler:GetSchedule')).toEqual([]);
  });

  test('s3:DeleteObject only on backups/ and only for what takes a backup (its cleanup of a dump without manifest)', () => {
    const deleting = (prefix: string) => grants(t, 's3:DeleteObject', prefix);
    for (const role of ['StepsBackup', 'StepsRestore', 'FargateTaskTaskRole']) {
      const statements = deleting(role);
      expect([role, statements.length]).toEqual([role, 1]);
      expect(
        asList(present(statements[0], `${role}'s statement`).Resource).map((r) => JSON.stringify(r)),
      ).toEqual([expect.stringMatching(/"\/backups\/\*"/)]);
    }
    const everyDelete = Object.values(t.findResources('AWS::IAM::Policy'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[])
      .flatMap((s) => asList(s.Action))
      .filter((a) => a.startsWith('s3:Delete'));
    expect(everyDelete).toEqual(['s3:DeleteObject', 's3:DeleteObject', 's3:DeleteObject']);
  });
});

describe('lifecycle rules', () => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties are untyped JSON
  const rules = (): any[] => {
    // The backup bucket is the KMS-encrypted one (its access-log bucket uses SSE-S3).
    const [bucket] = Object.values(t.findResources('AWS::S3::Bucket')).filter((b) =>
      JSON.stringify(b.Properties.BucketEncryption).includes('aws:kms'),
    );
    return present(bucket, 'the backup bucket').Properties.LifecycleConfiguration.Rules;
  };

  test('every rule that expires or moves current objects has a prefix filter', () => {
    for (const rule of rules()) {
      if (rule.ExpirationInDays !== undefined || rule.Transitions !== undefined) {
        expect([rule.Id, typeof rule.Prefix]).toEqual([rule.Id, 'string']);
      }
    }
  });

  test('backups/ moves to Glacier IR and expires per retention; plans/, diffs/ and runs/ expire too', () => {
    const byPrefix = Object.fromEntries(rules().map((r) => [r.Prefix, r]));
    expect(byPrefix['backups/']).toMatchObject({
      ExpirationInDays: 365,
      Transitions: [{ StorageClass: 'GLACIER_IR', TransitionInDays: 30 }],
    });
    for (const prefix of ['plans/', 'diffs/', 'runs/']) {
      expect([prefix, byPrefix[prefix]?.ExpirationInDays]).toEqual([prefix, 365]);
    }
  });

  test('schemas/ (schemas/<db>/latest.json is the drift baseline) and reports/ never expire', () => {
    for (const rule of rules()) {
      if (rule.ExpirationInDays === undefined) continue;
      for (const key of ['schemas/app/latest.json', 'reports/app/20260101_000000/report.html']) {
        expect([rule.Id, key.startsWith(rule.Prefix ?? '')]).toEqual([rule.Id, false]);
      }
    }
  });

  test('old versions expire and incomplete uploads are aborted everywhere', () => {
    const bucketWide = rules().filter((r) => r.Prefix === undefined);
    expect(bucketWide).toEqual([
      expect.objectContaining({
        NoncurrentVersionExpiration: { NoncurrentDays: 30 },
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 2 },
      }),
    ]);
    expect(bucketWide[0].ExpirationInDays).toBeUndefined();
  });
});

describe('networking', () => {
  const network = SAMPLE_CONTEXT.network;
  const withEndpoints = {
    network: { ...network, createEndpoints: true, routeTableIds: ['rtb-0123456789abcdef0'] },
  };
  const interfaceServices = (template: typeof t) =>
    Object.values(
      template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
    )
      .map((e) => String(e.Properties.ServiceName).replace('com.amazonaws.eu-west-1.', ''))
      .sort();

  test('network.databaseSecurityGroupId: pgshift opens the database port to its own security group', () => {
    const { template } = synth({
      network: { ...network, databaseSecurityGroupId: 'sg-0fedcba9876543210' },
      database: { ...SAMPLE_CONTEXT.database, port: 6432 },
    });
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 1);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: 'sg-0fedcba9876543210',
      SourceSecurityGroupId: network.securityGroupId,
      IpProtocol: 'tcp',
      FromPort: 6432,
      ToPort: 6432,
    });
    // Without it, no rule: the database's security group is not pgshift's to change.
    t.resourceCountIs('AWS::EC2::SecurityGroupIngress', 0);
  });

  test('no endpoints unless network.createEndpoints (a NAT gateway serves as well)', () => {
    t.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
  });

  test('createEndpoints: the S3 gateway on the route tables and the interface endpoints the in-VPC functions and the Fargate task call', () => {
    const { template } = synth(withEndpoints);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      ServiceName: 'com.amazonaws.eu-west-1.s3',
      VpcId: network.vpcId,
      RouteTableIds: ['rtb-0123456789abcdef0'],
    });
    // secretsmanager: every database step and the task read the secret; ecr.api, ecr.dkr, logs: the Fargate
    // task pulls the image and logs through its own network interface. No sns/states/sts/kms: no in-VPC caller.
    expect(interfaceServices(template)).toEqual(['ecr.api', 'ecr.dkr', 'logs', 'secretsmanager']);
    for (const e of Object.values(
      template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }),
    )) {
      expect(e.Properties).toMatchObject({ PrivateDnsEnabled: true, SubnetIds: network.subnetIds });
    }
  });

  test('createEndpoints with the disk check (rdsInstanceId/rdsClusterId): CloudWatch monitoring, for GetMetricData', () => {
    const { template } = synth({
      ...withEndpoints,
      database: { ...SAMPLE_CONTEXT.database, rdsClusterId: 'db' },
    });
    expect(interfaceServices(template)).toContain('monitoring');
  });

  test("the endpoints' security group accepts HTTPS from pgshift's security group only", () => {
    const { template } = synth(withEndpoints);
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      VpcId: network.vpcId,
      SecurityGroupIngress: [
        Match.objectLike({
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          SourceSecurityGroupId: network.securityGroupId,
        }),
      ],
    });
  });

  test('createEndpoints without network.routeTableIds is refused at synth, naming the field', () => {
    expect(() =>
      parsePgshiftContext({ ...SAMPLE_CONTEXT, network: { ...network, createEndpoints: true } }),
    ).toThrow(/pgshift\.network\.routeTableIds/);
  });
});

test("docs/deploy.md's endpoint table lists exactly the endpoints PgshiftVpcEndpoints knows (and S3)", () => {
  const doc = fs.readFileSync(path.join(REPO_ROOT, 'docs/deploy.md'), 'utf8');
  const section = doc.slice(doc.indexOf('### AWS APIs'), doc.indexOf('Choose one:'));
  const documented = section
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .flatMap((l) => [...(l.split('|')[1] ?? '').matchAll(/`([a-z0-9.]+)`/g)].map((m) => m[1]))
    .sort();
  expect(documented).toEqual(['s3', ...Object.keys(INTERFACE_ENDPOINTS)].sort());
});
