import * as fs from 'node:fs';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { REPO_ROOT } from '../../lib/pgshift-function';
import { synth } from './helpers';

// What a first `cdk deploy` into an existing VPC needs, and what lets a failed one be retried.
const { template: t } = synth();

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties are untyped JSON
function functionByStep(template: typeof t, step: string): Record<string, any> {
  const fns = template.findResources('AWS::Lambda::Function', {
    Properties: { Environment: { Variables: Match.objectLike({ PGSHIFT_STEP: step }) } },
  });
  const list = Object.values(fns);
  expect(list).toHaveLength(1);
  return list[0].Properties;
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
    expect(groups.length).toBe(10);
    for (const g of groups) {
      expect(g.DeletionPolicy).toBe('RetainExceptOnCreate');
      expect(g.UpdateReplacePolicy).toBe('Retain');
    }
  });

  test("the state machine's log group is under /aws/vendedlogs/states/ and unique per stack (its stack id), so a retained one never blocks the next create", () => {
    const sm = t.findResources('AWS::StepFunctions::StateMachine');
    const [machine] = Object.values(sm);
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
