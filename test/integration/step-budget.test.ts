/**
 * The state's byte budget (lambdas/shared/step-budget.ts) against the rig's S3 stand-in: what fits stays, what
 * does not is written whole (SSE-KMS) and the state keeps its routing fields, the key, size, sha256 and counts.
 */
import { withWholeResults } from '../../bin/cli/render';
import type { LocalRunResult } from '../../bin/cli/local-runner';
import { SpilledOutputUnreadableError, StepOutputTooLargeError } from '../../lambdas/shared/errors';
import { putText } from '../../lambdas/shared/s3';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import {
  jsonBytes,
  loadStepOutput,
  loadStepResults,
  STATE_BUDGET_BYTES,
  STEP_OUTPUT_BUDGET_BYTES,
  withStepBudget,
} from '../../lambdas/shared/step-budget';
import { fetchObject, rigStore, sha256 } from '../rig/helpers';
import { stepEvent } from '../helpers/step-event';

const event = (executionName: string, params: Record<string, unknown>, results = {}): StepEvent =>
  stepEvent(
    { action: 'migrate', database: 'budget db/1' },
    {
      execution: executionName,
      stateMachine: 'm',
      params,
      results,
    },
  );

/** A plan output as big as a 3,000-statement migration makes it: one analysis touching a table per statement. */
function bigPlan(statements: number): StepOutput {
  return {
    step: 'plan',
    ok: true,
    blocking: false,
    databaseSizeBytes: 123_456,
    pendingCount: 1,
    pending: [{ version: '1', name: 'many_inserts' }],
    lint: { errors: 0, warnings: 0 },
    analyses: [
      {
        version: '1',
        name: 'many_inserts',
        touches: Array.from({ length: statements }, (_, i) => ({
          schema: 'public',
          table: 'items',
          lock: 'ROW EXCLUSIVE',
          statementIndex: i,
        })),
      },
    ],
    written: { sql: 'plans/x/plan.sql', findings: 'plans/x/plan.json' },
  };
}

describe('the step output budget', () => {
  const store = rigStore();

  test('an output within the budget is returned as it is and nothing is written', async () => {
    // Prepare
    const small: StepOutput = { step: 'plan', ok: true, blocking: false, pending: [] };
    const puts: string[] = [];
    const counting = { ...store, s3: { send: (c: { input: { Key: string } }) => puts.push(c.input.Key) } };
    // Act
    const out = await withStepBudget(
      { step: 'migrate', store: counting as never },
      async () => small,
    )(event('small', { operation: 'plan' }));
    // Assess
    expect(out).toEqual(small);
    expect(puts).toEqual([]);
  });

  test('an oversized output is spilled whole to runs/<db>/<execution>/outputs/<step>-<operation>.json', async () => {
    // Prepare
    const full = bigPlan(3000);
    expect(jsonBytes(full)).toBeGreaterThan(STEP_OUTPUT_BUDGET_BYTES);
    const sent: Record<string, unknown>[] = [];
    const recording = {
      ...store,
      s3: {
        send: (c: { input: Record<string, unknown> }) => {
          sent.push(c.input);
          return store.s3.send(c as never);
        },
      },
    };
    // Act
    const out = await withStepBudget(
      { step: 'migrate', store: recording as never },
      async () => full,
    )(event('spill-1', { operation: 'plan' }));
    // Assess: what Choice states and later steps read stayed; the big field left, counted.
    expect(jsonBytes(out)).toBeLessThanOrEqual(STEP_OUTPUT_BUDGET_BYTES);
    expect(out).toMatchObject({
      step: 'plan',
      ok: true,
      blocking: false,
      databaseSizeBytes: 123_456,
      pendingCount: 1,
      pending: full.pending,
      written: full.written,
      spilled: {
        key: 'runs/budget db%2F1/spill-1/outputs/migrate-plan.json',
        counts: { analyses: 1 },
      },
    });
    expect(out.analyses).toBeUndefined();
    const spilled = out.spilled as { key: string; bytes: number; sha256: string };
    const object = await fetchObject(store, spilled.key);
    expect(object.sha256).toBe(spilled.sha256);
    expect(object.bytes.length).toBe(spilled.bytes);
    expect(JSON.parse(object.bytes.toString('utf8'))).toEqual(full);
    // SSE-KMS with the stack's key, as every pgshift write (the stand-in does not echo it back).
    expect(sent).toEqual([
      expect.objectContaining({
        Key: spilled.key,
        ServerSideEncryption: 'aws:kms',
        SSEKMSKeyId: store.kmsKeyId,
      }),
    ]);
    // The one reader gives back the whole output, and leaves unspilled results alone.
    expect(await loadStepOutput(store, out)).toEqual(full);
    expect(await loadStepResults(store, { plan: out, backup: { step: 'backup', ok: true } })).toEqual({
      plan: full,
      backup: { step: 'backup', ok: true },
    });
  });

  test('an output that fits its own budget but not the room the state has left is spilled too', async () => {
    // Prepare: earlier results already fill the state close to its budget.
    const earlier = {
      snapshotBefore: { step: 'schema', ok: true, pad: 'x'.repeat(STATE_BUDGET_BYTES - 4000) },
    };
    const output: StepOutput = {
      step: 'schema',
      ok: true,
      objectCounts: { table: 5000 },
      notes: 'n'.repeat(6000),
    };
    // Act
    const out = await withStepBudget(
      { step: 'schema', store },
      async () => output,
    )(event('spill-2', { operation: 'snapshot', phase: 'after' }, earlier));
    // Assess
    expect(out).toMatchObject({
      objectCounts: { table: 5000 },
      spilled: {
        key: expect.stringMatching(/\/spill-2\/outputs\/schema-snapshot-after\.json$/),
        counts: { notes: 6000 },
      },
    });
  });

  test('fields the state machine reads never leave; when they alone are too big, a typed error says where the output is', async () => {
    // Prepare: `written` (kept) is itself over the budget.
    const written = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, `plans/x/${i}.sql`]));
    const run = withStepBudget({ step: 'migrate', store }, async () => ({ step: 'plan', ok: true, written }));
    // Act
    const err = await run(event('too-big', { operation: 'plan' })).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(StepOutputTooLargeError);
    expect((err as Error).name).toBe('StepOutputTooLargeError');
    expect((err as Error).message).toContain('runs/budget db%2F1/too-big/outputs/migrate-plan.json');
    expect((err as Error).message).toContain('budget db/1');
  });

  test('without a bucket an oversized output is a StepOutputTooLargeError, not an oversized state', async () => {
    const err = await withStepBudget({ step: 'notify' }, async () => bigPlan(3000))(
      event('no-store', {}),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StepOutputTooLargeError);
  });

  test('a thrown error with a huge message is cut so that $.error.Cause fits', async () => {
    const err = (await withStepBudget({ step: 'migrate', store }, async () => {
      throw new Error(`INSERT failed: ${'v'.repeat(300_000)}`);
    })(event('err', {})).catch((e: unknown) => e)) as Error;
    expect(Buffer.byteLength(err.message)).toBeLessThanOrEqual(8 * 1024);
    expect(err.message).toMatch(/^INSERT failed: v+ … \(\d+ more bytes/);
    expect(Buffer.byteLength(err.stack ?? '')).toBeLessThan(16 * 1024);
  });

  test('a spilled object that is gone or changed is refused by the reader, naming the key', async () => {
    // Prepare
    const out = await withStepBudget({ step: 'migrate', store }, async () => bigPlan(3000))(
      event('changed', { operation: 'plan' }),
    );
    const key = (out.spilled as { key: string }).key;
    await putText(store, key, '{"step":"plan","ok":true}', 'application/json');
    // Act
    const changed = await loadStepOutput(store, out).catch((e: unknown) => e);
    const gone = await loadStepOutput(store, {
      ...out,
      spilled: { ...(out.spilled as object), key: `${key}.missing` },
    }).catch((e: unknown) => e);
    // Assess
    expect(changed).toBeInstanceOf(SpilledOutputUnreadableError);
    expect((changed as Error).message).toContain(key);
    expect((changed as Error).message).toContain(sha256('{"step":"plan","ok":true}'));
    expect(gone).toBeInstanceOf(SpilledOutputUnreadableError);
    expect((gone as Error).message).toMatch(/does not exist/);
  });

  test('the CLI shows a run with its spilled results whole, or says why it cannot', async () => {
    // Prepare
    const full = bigPlan(3000);
    const plan = await withStepBudget(
      { step: 'migrate', store },
      async () => full,
    )(event('cli', { operation: 'plan' }));
    const run = (results: Record<string, StepOutput>): LocalRunResult => ({
      ok: true,
      status: 'SUCCEEDED',
      startDate: 0,
      stopDate: 1,
      executionId: 'cli',
      durationMs: 1,
      visited: [],
      stateSizes: {},
      state: { input: { action: 'migrate' } as never, execution: { id: 'cli' }, results },
    });
    // Act
    const whole = await withWholeResults(run({ plan }), store);
    const gone = await withWholeResults(
      run({
        plan: { ...plan, spilled: { ...(plan.spilled as object), key: 'runs/x/cli/outputs/none.json' } },
      }),
      store,
    );
    // Assess
    expect(whole.note).toBeUndefined();
    expect(whole.run.state?.results.plan).toEqual(full);
    expect(gone.run.state?.results.plan?.spilled).toBeDefined();
    expect(gone.note).toMatch(/as the workflow state carried them: .*runs\/x\/cli\/outputs\/none\.json/);
  });
});
