import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { PgshiftStack } from '../../lib/pgshift-stack';
import { present } from '../helpers/present';
import { definitionOf, synth, testApp } from './helpers';

const aslValidator = require('asl-validator') as (d: unknown) => {
  isValid: boolean;
  errorsText: (sep?: string) => string;
};

const { template } = synth();
const asl = definitionOf(template);
const states = asl.States;
const state = (name: string) => present(states[name], `state "${name}"`);

const DOCUMENTED_STATES = [
  'Validate input',
  'Start duration watchdog',
  'Which action?',
  'Plan and lint migrations',
  'Pre-flight checks',
  'Pre-flight passed?',
  'Refuse: pre-flight failed',
  'Dry run?',
  'Unsafe migrations?',
  'Refuse: unsafe migration',
  'Measure database size',
  'Backup runner?',
  'Back up database',
  'Back up database (Fargate)',
  'Read Fargate backup result',
  'Snapshot schema (before)',
  'Apply runner?',
  'Apply migrations',
  'Apply migrations (Fargate)',
  'Snapshot schema (after)',
  'Diff schema',
  'Write report',
  'Report was the action?',
  'Report failed: warn',
  'Report failed: fail',
  'Notify success',
  'Stop duration watchdog',
  'Done',
  'Notify failure',
  'Stop duration watchdog (after failure)',
  'Failed',
  'Verify migrations',
  'Detect drift',
  'Verified?',
  'Refuse: verification failed',
  'Downgrade runner?',
  'Downgrade migrations',
  'Downgrade migrations (Fargate)',
  'Measure restore size',
  'Restore runner?',
  'Restore database',
  'Restore database (Fargate)',
  'Read Fargate restore result',
  'Clean up restore copies',
  'Baseline database',
];

/** The alert states and where each goes whatever happens to it (docs/workflow.md). */
const ALERT_STATES: Record<string, { resultPath: string; next: string }> = {
  'Start duration watchdog': { resultPath: '$.results.watchdog', next: 'Which action?' },
  'Notify success': { resultPath: '$.results.notify', next: 'Stop duration watchdog' },
  'Stop duration watchdog': { resultPath: '$.results.watchdog', next: 'Done' },
};

/** apply/downgrade and their Fargate branch (docs/workflow.md, "Lambda's limits"). */
const MIGRATE_ON_FARGATE: Record<
  string,
  { choice: string; prepare: string; run: string; operation: string }
> = {
  'Apply migrations': {
    choice: 'Apply runner?',
    prepare: 'Prepare Fargate apply event',
    run: 'Apply migrations (Fargate)',
    operation: 'apply',
  },
  'Downgrade migrations': {
    choice: 'Downgrade runner?',
    prepare: 'Prepare Fargate downgrade event',
    run: 'Downgrade migrations (Fargate)',
    operation: 'downgrade',
  },
};

describe('state machine definition', () => {
  test('passes asl-validator', () => {
    const result = aslValidator(asl);
    expect(result.errorsText('\n')).toBe('');
    expect(result.isValid).toBe(true);
  });

  test('has every state name docs/workflow.md documents', () => {
    expect(Object.keys(states)).toEqual(expect.arrayContaining(DOCUMENTED_STATES));
    expect(asl.StartAt).toBe('Validate input');
  });

  test('is JSONPath only: no JSONata, no Assign, no Distributed Map', () => {
    const text = JSON.stringify(asl);
    expect(asl.QueryLanguage).toBeUndefined();
    expect(text).not.toContain('"Assign"');
    expect(text).not.toContain('{%');
    expect(text).not.toContain('"DISTRIBUTED"');
  });

  test('has a whole-execution timeout from context', () => {
    expect(asl.TimeoutSeconds).toBe(240 * 60);
    const custom = definitionOf(
      synth({ workflow: { ...parsePgshiftContext(SAMPLE_CONTEXT).workflow, executionTimeoutMinutes: 90 } })
        .template,
    );
    expect(custom.TimeoutSeconds).toBe(90 * 60);
  });

  test('Validate input has no ResultPath and receives raw input, execution and state machine', () => {
    const v = state('Validate input');
    expect(v.ResultPath).toBeUndefined();
    expect(v.Parameters).toMatchObject({
      'raw.$': '$',
      execution: {
        'id.$': '$$.Execution.Id',
        'name.$': '$$.Execution.Name',
        'startTime.$': '$$.Execution.StartTime',
      },
      'stateMachineArn.$': '$$.StateMachine.Id',
    });
  });

  test('every Lambda Task invokes its function directly, retries transient errors, catches States.ALL into $.error, and has a timeout', () => {
    const lambdaTasks = Object.entries(states).filter(
      ([, s]) => s.Type === 'Task' && s.Resource?.startsWith('arn:aws:lambda'),
    );
    expect(lambdaTasks.length).toBeGreaterThan(20);
    for (const [name, s] of lambdaTasks) {
      expect(s.TimeoutSeconds).toBeGreaterThan(0);
      expect(s.Retry?.some((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException'))).toBe(true);
      if (name === 'Notify failure' || name === 'Stop duration watchdog (after failure)') continue;
      if (name === 'Write report') continue; // its own catch, next test
      if (ALERT_STATES[name]) continue;
      // apply/downgrade first continue on Fargate when Lambda's time runs out (the test below).
      const own = MIGRATE_ON_FARGATE[name] ? 1 : 0;
      expect(s.Catch?.slice(own)).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Notify failure' },
      ]);
    }
  });

  test.each(Object.entries(ALERT_STATES))(
    'the alert state "%s" catches its own errors into its result and goes on: the run keeps its outcome',
    (name, expected) => {
      const s = state(name);
      expect(s.Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: expected.resultPath, Next: expected.next },
      ]);
      expect(s.Next).toBe(expected.next);
    },
  );

  test('step Tasks send input, execution, results and params, and put their output under $.results', () => {
    expect(state('Snapshot schema (before)')).toMatchObject({
      Parameters: {
        'input.$': '$.input',
        'execution.$': '$.execution',
        'results.$': '$.results',
        params: { operation: 'snapshot', phase: 'before' },
      },
      ResultPath: '$.results.snapshotBefore',
    });
    expect(state('Plan and lint migrations').ResultPath).toBe('$.results.plan');
    expect(state('Read Fargate backup result')).toMatchObject({
      Parameters: { params: { operation: 'collect-task-result', step: 'backup' } },
      ResultPath: '$.results.backup',
    });
  });

  test('a failed report is a warning that still notifies success, except when the report was the action', () => {
    expect(state('Write report')).toMatchObject({
      Next: 'Notify success',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.reportError', Next: 'Report was the action?' }],
    });
    expect(
      state('Write report').Retry?.some((r) => r.ErrorEquals.includes('Lambda.TooManyRequestsException')),
    ).toBe(true);
    expect(state('Report was the action?')).toMatchObject({
      Type: 'Choice',
      Choices: [{ Variable: '$.input.action', StringEquals: 'report', Next: 'Report failed: fail' }],
      Default: 'Report failed: warn',
    });
    expect(state('Report failed: fail')).toMatchObject({
      Type: 'Pass',
      InputPath: '$.reportError',
      ResultPath: '$.error',
      Next: 'Notify failure',
    });
    expect(state('Report failed: warn')).toMatchObject({
      Type: 'Pass',
      Parameters: { step: 'report', ok: false, 'error.$': '$.reportError' },
      ResultPath: '$.results.report',
      Next: 'Notify success',
    });
  });

  test.each(Object.entries(MIGRATE_ON_FARGATE))(
    '"%s" on Lambda continues on Fargate when it stops on its time budget; the runner choice can go there first',
    (name, fargate) => {
      expect(state(name).Catch?.[0]).toEqual({
        ErrorEquals: ['MigrationTimeBudgetError'],
        ResultPath: '$.results.migrateStopped',
        Next: fargate.prepare,
      });
      expect(state(fargate.prepare)).toMatchObject({
        Type: 'Pass',
        Parameters: { params: { operation: fargate.operation, runner: 'fargate' } },
        Next: fargate.run,
      });
      expect(state(fargate.run).Resource).toMatch(/ecs:runTask\.sync$/);
      expect(JSON.stringify(state(fargate.run).Parameters)).toContain(
        '"Name":"PGSHIFT_STEP","Value":"migrate"',
      );
      expect(state(fargate.choice).Default).toBe(name);
      expect((state(fargate.choice).Choices as { Next: string }[]).map((c) => c.Next)).toEqual([
        fargate.prepare,
      ]);
    },
  );

  test('Apply retries only LockTimeoutError: a partial no-transaction migration (PartialMigrationError) never is', () => {
    const errors = (state('Apply migrations').Retry ?? []).flatMap((r) => r.ErrorEquals);
    expect(errors).toContain('LockTimeoutError');
    expect(errors).not.toContain('PartialMigrationError');
    expect(errors).not.toContain('States.ALL');
    expect(errors.filter((e) => !e.startsWith('Lambda.'))).toEqual(['LockTimeoutError']);
  });

  test.each([
    ['Back up database', 'another backup took the name'],
    ['Restore database', 'its pre-restore backup lost the name; nothing was touched yet'],
  ])('%s retries BackupKeyTakenError once (%s), and nothing else of its own', (name) => {
    const retries = state(name).Retry ?? [];
    expect(retries[0]).toMatchObject({
      ErrorEquals: ['BackupKeyTakenError'],
      MaxAttempts: 1,
      IntervalSeconds: 1,
    });
    const own = retries.flatMap((r) => r.ErrorEquals).filter((e) => !e.startsWith('Lambda.'));
    expect(own).toEqual(['BackupKeyTakenError']);
  });

  test('Apply retries LockTimeoutError with backoff before anything else', () => {
    const [first] = state('Apply migrations').Retry ?? [];
    expect(first).toMatchObject({
      ErrorEquals: ['LockTimeoutError'],
      MaxAttempts: 4,
      IntervalSeconds: 15,
      BackoffRate: 2,
    });
  });

  test('the failure path notifies, stops the watchdog and fails with the cause; a failed alert still fails', () => {
    expect(state('Notify failure')).toMatchObject({
      Parameters: { 'state.$': '$', params: { operation: 'failure' } },
      Next: 'Stop duration watchdog (after failure)',
      Catch: [
        {
          ErrorEquals: ['States.ALL'],
          ResultPath: '$.notifyError',
          Next: 'Stop duration watchdog (after failure)',
        },
      ],
    });
    expect(state('Failed')).toMatchObject({
      Type: 'Fail',
      ErrorPath: '$.error.Error',
      CausePath: '$.error.Cause',
    });
    expect(state('Refuse: unsafe migration')).toMatchObject({
      Type: 'Pass',
      Result: { Error: 'UnsafeMigrationError' },
      ResultPath: '$.error',
      Next: 'Notify failure',
    });
  });

  test('the Fargate backup runs the task with .sync and passes the step event in container overrides', () => {
    const run = state('Back up database (Fargate)');
    expect(run.Resource).toBe('arn:aws:states:::ecs:runTask.sync');
    const overrides = (run.Parameters as { Overrides: { ContainerOverrides: { Environment: unknown }[] } })
      .Overrides.ContainerOverrides[0]?.Environment;
    expect(overrides).toEqual([
      { Name: 'PGSHIFT_STEP', Value: 'backup' },
      { Name: 'PGSHIFT_EVENT', 'Value.$': 'States.JsonToString($.fargateEvent)' },
    ]);
    expect(run.Next).toBe('Read Fargate backup result');
    expect(JSON.stringify(state('Backup runner?').Choices)).toContain('"NumericGreaterThan":10737418240');
  });
});

describe('runner by size (issue 15)', () => {
  const choiceTo = (choice: string, next: string) =>
    (state(choice).Choices as { Next: string }[])
      .filter((c) => c.Next === next)
      .map((c) => JSON.stringify(c));
  const whichAction = (action: string) =>
    (state('Which action?').Choices as { StringEquals?: string; Next: string }[]).find(
      (c) => c.StringEquals === action,
    )?.Next;

  test('backup and downgrade measure the database, restore its backup too, before their runner choice', () => {
    expect(whichAction('backup')).toBe('Measure database size');
    expect(whichAction('downgrade')).toBe('Measure database size');
    expect(whichAction('restore')).toBe('Measure restore size');
    expect(whichAction('migrate')).toBe('Plan and lint migrations');
    for (const [name, next] of [
      ['Measure database size', 'Backup runner?'],
      ['Measure restore size', 'Restore runner?'],
    ] as const) {
      expect(state(name)).toMatchObject({
        Type: 'Task',
        ResultPath: '$.results.size',
        Next: next,
        Parameters: { params: { operation: 'size' } },
      });
      // The preflight function: a zip function already in the database's VPC with read access to backups/.
      expect(state(name).Resource).toMatch(/:function:StepsPreflightFunction/);
    }
  });

  test('Backup runner? honours runner: "lambda" first, then runner: "fargate" or either measured size', () => {
    const choices = state('Backup runner?').Choices as { Next: string }[];
    expect(choices[0]?.Next).toBe('Back up database');
    expect(JSON.stringify(choices[0])).toContain('"StringEquals":"lambda"');
    const toFargate = choiceTo('Backup runner?', 'Prepare Fargate backup event').join();
    expect(toFargate).toContain('"StringEquals":"fargate"');
    expect(toFargate).toContain(
      '"Variable":"$.results.size.databaseSizeBytes","NumericGreaterThan":10737418240',
    );
    expect(toFargate).toContain(
      '"Variable":"$.results.plan.databaseSizeBytes","NumericGreaterThan":10737418240',
    );
    expect(state('Backup runner?').Default).toBe('Back up database');
  });

  test("Restore runner? compares the restore's bytes moved (pre-restore dump plus restored backup)", () => {
    const choices = state('Restore runner?').Choices as { Next: string }[];
    expect(choices[0]?.Next).toBe('Restore database');
    const toFargate = choiceTo('Restore runner?', 'Prepare Fargate restore event').join();
    expect(toFargate).toContain('"StringEquals":"fargate"');
    expect(toFargate).toContain(
      '"Variable":"$.results.size.restoreSizeBytes","NumericGreaterThan":10737418240',
    );
    expect(state('Restore runner?').Default).toBe('Restore database');
  });

  test('the threshold is the workflow.fargateThresholdBytes context value', () => {
    const custom = definitionOf(
      synth({ workflow: { ...parsePgshiftContext(SAMPLE_CONTEXT).workflow, fargateThresholdBytes: 123456 } })
        .template,
    ).States;
    for (const choice of ['Backup runner?', 'Restore runner?']) {
      expect(JSON.stringify(present(custom[choice], choice).Choices)).toContain(
        '"NumericGreaterThan":123456',
      );
      expect(JSON.stringify(present(custom[choice], choice).Choices)).not.toContain('10737418240');
    }
  });
});

describe('cdk-nag (AwsSolutions)', () => {
  function nagApp(): App {
    const app = testApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    return app;
  }

  test('the stack has no unacknowledged finding', () => {
    const app = nagApp();
    new PgshiftStack(app, 'Nag', {
      config: parsePgshiftContext({
        ...SAMPLE_CONTEXT,
        // Every opt-in resource, so each is checked too.
        database: { ...SAMPLE_CONTEXT.database, rdsClusterId: 'app-db' },
        network: {
          ...SAMPLE_CONTEXT.network,
          databaseSecurityGroupId: 'sg-0fedcba9876543210',
          createEndpoints: true,
          routeTableIds: ['rtb-0123456789abcdef0'],
        },
        workflow: { ...parsePgshiftContext(SAMPLE_CONTEXT).workflow, reservedConcurrency: true },
        alerts: { emails: ['a@example.com'], slack: { workspaceId: 'T1', channelId: 'C1' } },
      }),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    expect(() => app.synth()).not.toThrow();
  });

  test('an unacknowledged finding fails synth (the check above is not vacuous)', () => {
    const app = nagApp();
    const stack = new Stack(app, 'Bad');
    new s3.Bucket(stack, 'Unlogged');
    expect(() => app.synth()).toThrow();
  });
});

describe('context and image asset', () => {
  test('bad context lists every problem by field', () => {
    const bad = {
      ...SAMPLE_CONTEXT,
      databaseName: 'bad name!',
      logRetentionDays: 42,
      network: { vpcId: 'x' },
    };
    expect(() => parsePgshiftContext(bad)).toThrow(/pgshift\.databaseName/);
    expect(() => parsePgshiftContext(bad)).toThrow(/pgshift\.logRetentionDays/);
    expect(() => parsePgshiftContext(bad)).toThrow(/pgshift\.network\.vpcId/);
    expect(() => parsePgshiftContext(bad)).toThrow(/pgshift\.network\.subnetIds/);
  });

  test('a maintenance window with invalid execution input is refused at synth', () => {
    expect(() =>
      parsePgshiftContext({
        ...SAMPLE_CONTEXT,
        maintenanceWindows: [
          { name: 'w', schedule: 'cron(0 3 * * ? *)', input: { action: 'migrate', dryrun: true } },
        ],
      }),
    ).toThrow(/maintenanceWindows\.0\.input.*unknown field "dryrun"/);
  });

  test('the image build context is what the CDK bundled, never the repository (node_modules, .git, cdk.out)', () => {
    // Bundling skipped: the context is the Dockerfile's folder alone (test/infra/assets.test.ts bundles).
    const app = testApp();
    new PgshiftStack(app, 'Img', { config: parsePgshiftContext(SAMPLE_CONTEXT) });
    const assembly = app.synth();
    const dirs = fs.readdirSync(assembly.directory).filter((d) => d.startsWith('asset.'));
    const imageDirs = dirs
      .map((d) => path.join(assembly.directory, d))
      .filter((d) => fs.existsSync(path.join(d, 'Dockerfile')));
    expect(imageDirs).toHaveLength(1);
    expect(fs.readdirSync(present(imageDirs[0], 'the image asset directory'))).toEqual(['Dockerfile']);
  });
});
