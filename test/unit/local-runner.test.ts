/**
 * The local runner on a small CDK state machine built here: CloudFormation tokens resolved, Task states mapped
 * to handlers through PGSHIFT_STEP, Retry/Catch matched by the handlers' error names, the context object set.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import {
  resolveWorkflow,
  runLocalWorkflow,
  type CfnTemplate,
  type StepHandler,
} from '../../bin/cli/local-runner';
import { LockTimeoutError, MigrationFailedError } from '../../lambdas/shared/errors';
import { present } from '../helpers/present';

function smallWorkflowTemplate(): CfnTemplate {
  const app = new App();
  const stack = new Stack(app, 'RunnerTest');
  const fn = (id: string, step: string) =>
    new lambda.Function(stack, id, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({})'),
      environment: { PGSHIFT_STEP: step },
    });
  const invoke = (name: string, f: lambda.IFunction, params: Record<string, unknown>, resultName: string) =>
    new tasks.LambdaInvoke(stack, name, {
      lambdaFunction: f,
      payloadResponseOnly: true,
      payload: sfn.TaskInput.fromObject({
        'input.$': '$.input',
        'execution.$': '$.execution',
        'results.$': '$.results',
        params,
      }),
      resultPath: `$.results.${resultName}`,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(30)),
    });
  const validate = new tasks.LambdaInvoke(stack, 'Validate input', {
    lambdaFunction: fn('WorkflowFn', 'workflow'),
    payloadResponseOnly: true,
    payload: sfn.TaskInput.fromObject({
      'raw.$': '$',
      execution: { 'id.$': '$$.Execution.Id', 'startTime.$': '$$.Execution.StartTime' },
    }),
    // No resultPath: the default replaces the state. aws-local-stepfunctions 3.0.0 mishandles an explicit "$".
  });
  const migrateFn = fn('MigrateFn', 'migrate');
  const apply = invoke('Apply migrations', migrateFn, { operation: 'apply' }, 'migrate');
  apply.addRetry({ errors: ['LockTimeoutError'], maxAttempts: 2, interval: Duration.seconds(30) });
  const failed = new sfn.Fail(stack, 'Failed', { errorPath: '$.error.Error', causePath: '$.error.Cause' });
  apply.addCatch(failed, { resultPath: '$.error' });
  const def = validate.next(invoke('Plan', migrateFn, { operation: 'plan' }, 'plan')).next(apply);
  new sfn.StateMachine(stack, 'Machine', { definitionBody: sfn.DefinitionBody.fromChainable(def) });
  return Template.fromStack(stack).toJSON() as CfnTemplate;
}

describe('local runner', () => {
  const template = smallWorkflowTemplate();

  test('maps each Task state to its step and resolves the function ARNs', () => {
    const workflow = resolveWorkflow(template);
    expect(workflow.tasks.map((t) => [t.state, t.step])).toEqual([
      ['Validate input', 'workflow'],
      ['Plan', 'migrate'],
      ['Apply migrations', 'migrate'],
    ]);
    expect(JSON.stringify(workflow.definition)).not.toContain('Fn::');
  });

  test('runs the handlers in order, passing input, execution and earlier results', async () => {
    // Prepare
    const calls: unknown[] = [];
    const handlers: Record<string, StepHandler> = {
      workflow: async (e) => ({
        input: (e as { raw: object }).raw,
        execution: (e as { execution: object }).execution,
        results: {},
      }),
      migrate: async (e) => {
        calls.push(e);
        const op = (e as { params: { operation: string } }).params.operation;
        return { step: op, ok: true };
      },
    };
    // Act
    const run = await runLocalWorkflow({
      workflow: resolveWorkflow(template),
      input: { action: 'migrate' },
      loadHandler: (step) => present(handlers[step], `a handler for ${step}`),
      runFargateTask: async () => undefined,
      executionName: 'local-test-1',
    });
    // Assess
    expect(run.error).toBeUndefined();
    expect(run.ok).toBe(true);
    expect(run.state?.results).toEqual({
      plan: { step: 'plan', ok: true },
      migrate: { step: 'apply', ok: true },
    });
    expect(run.state?.execution.id).toBe('local-test-1');
    expect(calls[1]).toMatchObject({ results: { plan: { step: 'plan' } }, params: { operation: 'apply' } });
    expect(run.visited.map((v) => v.state)).toEqual(['Validate input', 'Plan', 'Apply migrations']);
  });

  test('a LockTimeoutError is retried; a MigrationFailedError is caught and fails the run with its name', async () => {
    // Prepare
    let attempts = 0;
    const handlers = (final: Error): Record<string, StepHandler> => ({
      workflow: async (e) => ({ input: (e as { raw: object }).raw, execution: { id: 'x' }, results: {} }),
      migrate: async (e) => {
        if ((e as { params: { operation: string } }).params.operation === 'plan')
          return { step: 'plan', ok: true };
        attempts += 1;
        if (attempts === 1) throw new LockTimeoutError('canceling statement due to lock timeout');
        throw final;
      },
    });
    // Act
    const run = await runLocalWorkflow({
      workflow: resolveWorkflow(template),
      input: { action: 'migrate' },
      loadHandler: (step) =>
        present(handlers(new MigrationFailedError('0002_x.up.sql: boom'))[step], `a handler for ${step}`),
      runFargateTask: async () => undefined,
      retryIntervalMs: 1,
    });
    // Assess
    expect(attempts).toBe(2);
    expect(run.ok).toBe(false);
    expect(run.error).toEqual({ name: 'MigrationFailedError', message: '0002_x.up.sql: boom' });
    expect(run.visited.filter((v) => v.state === 'Apply migrations').map((v) => v.outcome)).toEqual([
      'retried',
      'caught',
    ]);
  });

  describe('a state over 256 KB fails the execution with States.DataLimitExceeded, as Step Functions does', () => {
    const handlersReturning = (plan: unknown, apply: unknown): Record<string, StepHandler> => ({
      workflow: async (e) => ({ input: (e as { raw: object }).raw, execution: { id: 'x' }, results: {} }),
      migrate: async (e) =>
        (e as { params: { operation: string } }).params.operation === 'plan' ? plan : apply,
    });
    const run = (plan: unknown, apply: unknown) =>
      runLocalWorkflow({
        workflow: resolveWorkflow(template),
        input: { action: 'migrate' },
        loadHandler: (step) => present(handlersReturning(plan, apply)[step], `a handler for ${step}`),
        runFargateTask: async () => undefined,
        retryIntervalMs: 1,
      });

    test('a Task result over 262,144 bytes: not retried, not caught (the Catch of States.ALL never runs)', async () => {
      // Act: Apply migrations has Retry and Catch (States.ALL → Failed).
      const result = await run(
        { step: 'plan', ok: true },
        { step: 'apply', ok: true, pad: 'x'.repeat(262_144) },
      );
      // Assess
      expect(result.ok).toBe(false);
      expect(result.status).toBe('FAILED');
      expect(result.error?.name).toBe('States.DataLimitExceeded');
      expect(result.error?.message).toMatch(/'Apply migrations' returned a result with a size exceeding/);
      expect(result.visited.map((v) => [v.state, v.outcome])).toEqual([
        ['Validate input', 'ok'],
        ['Plan', 'ok'],
        ['Apply migrations', 'failed'],
      ]);
      expect(result.stateSizes['Apply migrations']?.result).toBeGreaterThan(262_144);
    });

    test('a state output over the limit (results under it, the state they make over it) is refused uncaught', async () => {
      // Prepare: each result fits; the state after Apply's ResultPath carries both.
      const plan = { step: 'plan', ok: true, pad: 'p'.repeat(100_000) };
      const apply = { step: 'apply', ok: true, pad: 'a'.repeat(200_000) };
      // Act
      const result = await run(plan, apply);
      // Assess
      expect(result.error?.name).toBe('States.DataLimitExceeded');
      expect(result.error?.message).toMatch(/'Apply migrations' has an output with a size exceeding/);
      expect(result.visited.some((v) => v.state === 'Failed' || v.outcome === 'caught')).toBe(false);
      const sizes = present(result.stateSizes['Apply migrations'], "Apply migrations' sizes");
      expect(sizes.result).toBeLessThan(262_144);
      expect(sizes.output).toBeGreaterThan(262_144);
      // The Plan state's output was recorded too: every state's sizes are there for the tests to assert.
      expect(result.stateSizes.Plan?.output).toBeGreaterThan(100_000);
      expect(result.stateSizes.Plan?.output).toBeLessThan(262_144);
    });

    test('an execution input over the limit fails at the first state', async () => {
      // Act
      const result = await runLocalWorkflow({
        workflow: resolveWorkflow(template),
        input: { action: 'migrate', pad: 'i'.repeat(262_144) },
        loadHandler: (step) =>
          present(handlersReturning({ ok: true }, { ok: true })[step], `a handler for ${step}`),
        runFargateTask: async () => undefined,
      });
      // Assess
      expect(result.error?.name).toBe('States.DataLimitExceeded');
      expect(result.visited).toEqual([
        expect.objectContaining({ state: 'Validate input', outcome: 'failed' }),
      ]);
    });

    test('states under the limit run as before, their sizes recorded', async () => {
      // Act
      const result = await run({ step: 'plan', ok: true }, { step: 'apply', ok: true });
      // Assess
      expect(result.ok).toBe(true);
      expect(Object.keys(result.stateSizes)).toEqual(['Validate input', 'Plan', 'Apply migrations']);
      for (const sizes of Object.values(result.stateSizes)) {
        expect(sizes.input).toBeGreaterThan(0);
        expect(sizes.output).toBeGreaterThan(0);
        expect(sizes.payload).toBeGreaterThan(0);
      }
    });
  });
});
