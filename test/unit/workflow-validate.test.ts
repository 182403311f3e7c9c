import { mockClient } from 'aws-sdk-client-mock';
import { DescribeExecutionCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { findRunningExecutions, validateExecution } from '../../lambdas/workflow/validate';

const machine = 'arn:aws:states:eu-west-1:123456789012:stateMachine:pgshift';
const exec = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:pgshift:${name}`;

describe('Validate input', () => {
  test('fills the configured database and starts with empty results', async () => {
    const out = await validateExecution({ action: 'backup' }, { id: 'local-1' }, { defaultDatabase: 'shop' });
    expect(out).toEqual({
      input: { action: 'backup', database: 'shop' },
      execution: { id: 'local-1' },
      results: {},
    });
  });

  test('lists every problem of a bad input in one InputValidationError', async () => {
    await expect(
      validateExecution({ action: 'migrate', dryrun: true, steps: 2 }, { id: 'local-1' }),
    ).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringMatching(
        /unknown field "dryrun"[\s\S]*steps: only applies to action "downgrade"/,
      ),
    });
  });

  test('refuses an input over 16 KB: it travels in every state, within the state budget', async () => {
    await expect(
      validateExecution({ action: 'restore', backup: 'latest', confirm: 'x'.repeat(20_000) }, { id: 'l' }),
    ).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringMatching(/the execution input is \d+ bytes; at most 16384/),
    });
  });

  test('refuses while another run works on the same database', async () => {
    await expect(
      validateExecution(
        { action: 'migrate' },
        { id: exec('b') },
        {
          defaultDatabase: 'shop',
          findConcurrentRuns: async (db) => (db === 'shop' ? [exec('a')] : []),
        },
      ),
    ).rejects.toMatchObject({ name: 'MigrationLockedError', message: expect.stringContaining(exec('a')) });
  });
});

describe('concurrent executions (Step Functions mocked: no local stand-in)', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());

  test('only other RUNNING executions for the same database count', async () => {
    // Prepare
    sfn.on(ListExecutionsCommand).resolves({
      executions: [
        {
          executionArn: exec('self'),
          stateMachineArn: machine,
          name: 'self',
          status: 'RUNNING',
          startDate: new Date(),
        },
        {
          executionArn: exec('same'),
          stateMachineArn: machine,
          name: 'same',
          status: 'RUNNING',
          startDate: new Date(),
        },
        {
          executionArn: exec('default'),
          stateMachineArn: machine,
          name: 'default',
          status: 'RUNNING',
          startDate: new Date(),
        },
        {
          executionArn: exec('other'),
          stateMachineArn: machine,
          name: 'other',
          status: 'RUNNING',
          startDate: new Date(),
        },
      ],
    });
    sfn
      .on(DescribeExecutionCommand, { executionArn: exec('same') })
      .resolves({ input: '{"action":"backup","database":"shop"}' });
    sfn
      .on(DescribeExecutionCommand, { executionArn: exec('default') })
      .resolves({ input: '{"action":"report"}' });
    sfn
      .on(DescribeExecutionCommand, { executionArn: exec('other') })
      .resolves({ input: '{"action":"report","database":"crm"}' });
    // Act
    const running = await findRunningExecutions(
      new SFNClient({ region: 'eu-west-1' }),
      machine,
      exec('self'),
      'shop',
      'shop',
    );
    // Assess
    expect(running).toEqual([exec('same'), exec('default')]);
    expect(sfn.commandCalls(ListExecutionsCommand)[0]?.args[0].input).toMatchObject({
      statusFilter: 'RUNNING',
    });
  });
});
