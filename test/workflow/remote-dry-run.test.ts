/**
 * `pgshift start migrate --dry-run --wait` and `pgshift plan` against a deployed state machine. Step Functions
 * and CloudFormation are mocked (no local stand-in for their APIs): the execution they report is a real run of
 * the synthesized state machine against the rig, so the SQL the CLI fetches is the object the migrate step
 * wrote to the rig's S3. Last, a bundle run with every request IAM-simulated against the template.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import type { RecordedCall } from '../../bin/cli/aws-gateway';
import { main } from '../../bin/cli/main';
import { packMigrations, uploadBundle } from '../../lambdas/migrate';
import type { Io } from '../../bin/cli/output';
import { encryptionParams, getText } from '../../lambdas/shared/s3';
import { freshDatabase, rigInfo, rigStore } from '../rig/helpers';
import { runWorkflow } from './harness';

const SM = 'arn:aws:states:us-east-1:000000000000:stateMachine:Pgshift';
const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:Pgshift:pr-42';

function capture(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => stdout.push(t), err: (t) => stderr.push(t), tty: false };
}

describe('pgshift start --dry-run --wait / pgshift plan (Step Functions and CloudFormation mocked: no local stand-in for their APIs)', () => {
  const sfn = mockClient(SFNClient);
  afterEach(() => sfn.reset());

  test('the SQL of the deployed dry run is fetched from S3, checked against its sha256 and printed; plan writes the Markdown', async () => {
    // Prepare: a real dry run of the synthesized state machine; its final state is what Step Functions returns.
    const db = await freshDatabase('rdry');
    const run = await runWorkflow(
      { action: 'migrate', dryRun: true },
      { databaseUrl: db.url, database: db.name },
    );
    expect(run.ok).toBe(true);
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: new Date() });
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXEC,
      stateMachineArn: SM,
      status: 'SUCCEEDED',
      startDate: new Date(),
      output: JSON.stringify(run.state),
    });
    sfn.on(GetExecutionHistoryCommand).resolves({ events: [] });
    const remote = ['--state-machine-arn', SM, '--s3-endpoint', rigInfo().s3.endpoint];
    const sqlKey = (run.state?.results.plan?.sql as { key: string }).key;
    const out = path.join(await mkdtemp(path.join(os.tmpdir(), 'pgshift-rplan-')), 'plan.md');
    // Act
    const sqlOnly = capture();
    const sqlOnlyCode = await main(
      ['start', 'migrate', '--dry-run', '--wait', '--sql-only', ...remote],
      sqlOnly,
    );
    const human = capture();
    const humanCode = await main(['start', 'migrate', '--dry-run', '--wait', ...remote], human);
    const plan = capture();
    const planCode = await main(['plan', '--output', out, ...remote], plan);
    // Assess
    expect([sqlOnlyCode, humanCode, planCode]).toEqual([0, 0, 0]);
    expect(sqlOnly.stdout.join('')).toBe(await getText(rigStore(), sqlKey));
    expect(human.stdout.join('\n')).toMatch(/^SUCCEEDED\nreport: .*\n\nSQL that would run \(s3:\/\//);
    expect(human.stdout.join('\n')).toContain('-- apply 6 validate_order_status');
    expect(JSON.parse(sfn.commandCalls(StartExecutionCommand)[2]?.args[0].input.input ?? '{}')).toEqual({
      action: 'migrate',
      dryRun: true,
    });
    const md = await readFile(out, 'utf8');
    expect(md).toContain('**6 pending migration(s)**');
    expect(md).toContain('[prefer-text-field](https://squawkhq.com/docs/prefer-text-field)');
    await db.drop();
  }, 300_000);

  test('SQL changed in S3 after the step wrote it is refused (PlanSqlMismatchError, exit 3), nothing printed on stdout', async () => {
    // Prepare
    const db = await freshDatabase('rtam');
    const run = await runWorkflow(
      { action: 'migrate', dryRun: true },
      { databaseUrl: db.url, database: db.name },
    );
    const ref = run.state?.results.plan?.sql as { key: string; sha256: string };
    const store = rigStore();
    await store.s3.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: ref.key,
        Body: 'DROP TABLE app.customers;\n',
        ...encryptionParams(store),
      }),
    );
    sfn.on(StartExecutionCommand).resolves({ executionArn: EXEC, startDate: new Date() });
    // A failed execution has no output: the CLI reads the last state's output from the history.
    sfn.on(DescribeExecutionCommand).resolves({
      executionArn: EXEC,
      stateMachineArn: SM,
      status: 'FAILED',
      startDate: new Date(),
      error: 'PreflightFailedError',
    });
    sfn.on(GetExecutionHistoryCommand).resolves({
      events: [
        {
          id: 1,
          timestamp: new Date(),
          type: 'TaskStateExited',
          stateExitedEventDetails: { name: 'Plan migrations', output: JSON.stringify(run.state) },
        },
      ],
    });
    // Act
    const io = capture();
    const code = await main(
      [
        'start',
        'migrate',
        '--dry-run',
        '--wait',
        '--sql-only',
        '--state-machine-arn',
        SM,
        '--s3-endpoint',
        rigInfo().s3.endpoint,
      ],
      io,
    );
    // Assess
    expect(code).toBe(3);
    expect(io.stdout).toEqual([]);
    expect(io.stderr.join('\n')).toMatch(
      new RegExp(
        `PlanSqlMismatchError: s3://${store.bucket}/${ref.key} hashes to [0-9a-f]{64}.*not the ${ref.sha256}`,
      ),
    );
    await db.drop();
  }, 300_000);
});

describe('migration bundles through the synthesized state machine (IAM simulated against the template)', () => {
  test('a bundle run of the synthesized state machine: only the migrate function reads bundles/, and the IAM simulation allows it', async () => {
    // Prepare
    const db = await freshDatabase('rbun');
    const packed = await packMigrations(path.join(__dirname, '..', '..', 'examples', 'migrations'));
    await uploadBundle(rigStore(), packed);
    let calls: RecordedCall[] = [];
    // Act: runWorkflow fails the run when a request would be denied by the template's policies.
    const run = await runWorkflow(
      { action: 'migrate', dryRun: true, migrations: { bundle: packed.bundle, sha256: packed.sha256 } },
      { databaseUrl: db.url, database: db.name, inspect: (d) => void (calls = [...d.calls]) },
    );
    // Assess
    expect(run.error).toBeUndefined();
    const reads = calls.filter((c) => c.authorizations.some((a) => a.resource.includes('/bundles/')));
    expect(reads.length).toBeGreaterThan(0);
    expect(new Set(reads.map((c) => `${c.caller} ${c.operation}`))).toEqual(
      new Set(['StepsMigrateFunctionDDD37746 GetObject']),
    );
    expect(run.state?.results.plan?.migrations).toMatchObject({ source: 'bundle', sha256: packed.sha256 });
    await db.drop();
  }, 300_000);
});
