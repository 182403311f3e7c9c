import { mockClient } from 'aws-sdk-client-mock';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../../lambdas/shared/errors';
import { findStateMachineArn, startExecution, waitForExecution } from '../../bin/cli/remote';

describe('pgshift start/status (Step Functions and CloudFormation mocked: no local stand-in for their APIs)', () => {
  const sfn = mockClient(SFNClient);
  const cfn = mockClient(CloudFormationClient);
  const clients = () => ({
    sfn: new SFNClient({ region: 'us-east-1' }),
    cloudformation: new CloudFormationClient({ region: 'us-east-1' }),
  });
  afterEach(() => {
    sfn.reset();
    cfn.reset();
  });

  test('the state machine is found from the stack output', async () => {
    cfn.on(DescribeStacksCommand, { StackName: 'Pgshift' }).resolves({
      Stacks: [
        {
          StackName: 'Pgshift',
          CreationTime: new Date(),
          StackStatus: 'CREATE_COMPLETE',
          Outputs: [{ OutputKey: 'StateMachineArn', OutputValue: 'arn:sm' }],
        },
      ],
    });
    await expect(findStateMachineArn(clients(), {})).resolves.toBe('arn:sm');
  });

  test('a missing stack is a configuration error that says what to do', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(Object.assign(new Error('does not exist'), { name: 'ValidationError' }));
    const err = await findStateMachineArn(clients(), { stackName: 'Nope' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toBe(
      'Cannot read stack Nope (ValidationError): deploy it first or pass --state-machine-arn',
    );
  });

  test('start sends the validated input as the execution input', async () => {
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    await expect(startExecution(clients(), 'arn:sm', { action: 'migrate', dryRun: true })).resolves.toBe(
      'arn:exec',
    );
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input).toEqual({
      stateMachineArn: 'arn:sm',
      input: '{"action":"migrate","dryRun":true}',
    });
  });

  test('--wait reports each state once, in order, until the execution stops', async () => {
    const history = (names: string[]) => ({
      events: names.map((name, i) => ({
        id: i + 1,
        timestamp: new Date(),
        type: 'TaskStateEntered' as const,
        stateEnteredEventDetails: { name },
      })),
    });
    sfn
      .on(DescribeExecutionCommand)
      .resolvesOnce({
        status: 'RUNNING',
        startDate: new Date(),
        executionArn: 'arn:exec',
        stateMachineArn: 'arn:sm',
      })
      .resolves({
        status: 'SUCCEEDED',
        startDate: new Date(),
        executionArn: 'arn:exec',
        stateMachineArn: 'arn:sm',
        output: '{"ok":true}',
      });
    sfn
      .on(GetExecutionHistoryCommand)
      .resolvesOnce(history(['Validate input']))
      .resolves(history(['Validate input', 'Back up', 'Apply migrations']));
    const seen: string[] = [];
    const final = await waitForExecution(clients(), 'arn:exec', (s) => seen.push(s), {
      sleep: async () => undefined,
    });
    expect(seen).toEqual(['Validate input', 'Back up', 'Apply migrations']);
    expect(final).toMatchObject({ status: 'SUCCEEDED', output: { ok: true } });
  });
});
