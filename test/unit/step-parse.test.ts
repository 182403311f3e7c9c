import { StepResultInvalidError } from '../../lambdas/shared/errors';
import { parseStepOutput, parseStepResults, parseWorkflowState } from '../../lambdas/shared/step-parse';

function thrown(f: () => unknown): StepResultInvalidError {
  try {
    f();
  } catch (err) {
    if (err instanceof StepResultInvalidError) return err;
    throw err;
  }
  throw new Error('expected a StepResultInvalidError');
}

describe('the seam where step results come back from the state machine', () => {
  test('well-formed results come back typed, with every field they had, named or not', () => {
    // Prepare
    const raw = {
      plan: { step: 'plan', ok: true, pendingCount: 2, blocking: false, extra: { kept: [1, 2] } },
      backup: { step: 'backup', ok: true, key: 'backups/db/x.dump', sizeBytes: 42 },
      migrateStopped: { Error: 'MigrationTimeBudgetError', Cause: '{}' },
      somethingNew: { anything: true },
    };
    // Act
    const results = parseStepResults(raw);
    // Assess
    expect(results).toEqual(raw);
    expect(results.plan?.pendingCount).toBe(2);
    expect(results.backup?.key).toBe('backups/db/x.dump');
  });

  test('a malformed result is a StepResultInvalidError naming the step and the field', () => {
    // Act
    const err = thrown(() =>
      parseStepResults({
        plan: { step: 'plan', ok: true, pendingCount: 'two' },
        backup: { step: 'backup', ok: true },
      }),
    );
    // Assess
    expect(err.name).toBe('StepResultInvalidError');
    expect(err.message).toContain("The plan step's result");
    expect(err.message).toContain('results.plan.pendingCount');
    expect(err.details).toMatchObject({ step: 'plan', field: 'results.plan.pendingCount' });
  });

  test('a result without its verdict names the missing field', () => {
    // Act
    const err = thrown(() => parseStepResults({ backup: { step: 'backup', key: 'k' } }));
    // Assess
    expect(err.details).toMatchObject({ step: 'backup', field: 'results.backup.ok' });
  });

  test('a nested field is named with its index', () => {
    // Act
    const err = thrown(() =>
      parseStepResults({
        preflight: { step: 'preflight', ok: true, checks: [{ id: 'locks', status: 'maybe', message: 'm' }] },
      }),
    );
    // Assess
    expect(err.details).toMatchObject({ step: 'preflight', field: 'results.preflight.checks[0].status' });
  });

  test('a spilled or Fargate output of a known step is checked for step and ok, named by its step and key', () => {
    // Act
    const err = thrown(() =>
      parseStepOutput({ step: 'backup', ok: 'yes' }, 'backup', 'runs/db/x/backup.json'),
    );
    // Assess
    expect(err.details).toMatchObject({ step: 'backup', field: 'runs/db/x/backup.json.ok' });
  });

  test('a workflow state names the result and field when a result breaks its contract', () => {
    // Prepare
    const state = {
      input: { action: 'backup', database: 'app' },
      execution: { id: 'local-1' },
      results: { backup: { step: 'backup', ok: true, sizeBytes: '12' } },
    };
    // Act
    const err = thrown(() => parseWorkflowState(state));
    // Assess
    expect(err.details).toMatchObject({ step: 'backup', field: 'results.backup.sizeBytes' });
    expect(parseWorkflowState({ ...state, results: {} }).input.database).toBe('app');
  });
});
