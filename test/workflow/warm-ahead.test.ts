/**
 * `pgshift local` starts the next state's function while a state runs (warmAhead), so cold starts overlap
 * instead of adding up. The guess of which state comes next is the interpreter's own Choice evaluation
 * (NextTaskLookahead) on the synthesized state machine; the environments are the CLI's (one at a time, worker
 * threads), and nothing starts beside the backup's streaming, which holds a run's peak memory.
 */
import type { EnvironmentEvent } from '../../bin/cli/local-deployment';
import type { StateEvent } from '../../bin/cli/local-runner';
import { NextTaskLookahead } from '../../bin/cli/lookahead';
import { dropDatabase, freshDatabase, rigInfo, seedRows } from '../rig/helpers';
import { runWorkflow, startRigDeployment, synthesizedWorkflow } from './harness';

type Json = Parameters<NextTaskLookahead['after']>[1];

function lookahead(): NextTaskLookahead {
  const { StateMachine } = require('aws-local-stepfunctions') as typeof import('aws-local-stepfunctions');
  return new NextTaskLookahead(StateMachine, synthesizedWorkflow().definition);
}

function stateInput(input: { [key: string]: Json }, results: { [key: string]: Json } = {}): Json {
  return { input, execution: { id: 'x', name: 'x', startTime: '2026-12-03T00:00:00Z' }, results };
}

describe('warm ahead: the next function starts while a state runs', () => {
  beforeAll(() => {
    synthesizedWorkflow();
  }, 600_000);

  test('the lookahead follows Choice states as the interpreter evaluates them', async () => {
    // Prepare
    const next = lookahead();
    const backup = stateInput({ action: 'backup' });
    const migrate = stateInput({ action: 'migrate' });
    const dryRun = stateInput({ action: 'migrate', dryRun: true });
    // The backup's Task states in order; each Choice between them (action, runner, after the backup) taken
    // as it would be.
    const backupTasks = [
      'Validate input',
      'Start duration watchdog',
      'Measure database size',
      'Back up database',
      'Write report',
      'Notify success',
      'Stop duration watchdog',
    ];
    // Act
    const guesses: (string | undefined)[] = [];
    for (const state of backupTasks) guesses.push(await next.after(state, backup, {}));
    // Assert: each state's guess is the one after it, and none after the last
    expect(guesses).toEqual([...backupTasks.slice(1), undefined]);
    expect(await next.after('Start duration watchdog', migrate, {})).toBe('Plan and lint migrations');
    expect(await next.after('Snapshot schema (before)', dryRun, {})).toBe('Write report');
    expect(await next.after('Snapshot schema (before)', migrate, {})).toBe('Apply migrations');
    // A Choice on an earlier step's result is evaluated exactly: a database over 10 GiB goes to Fargate.
    const large = stateInput({ action: 'backup' }, { plan: { databaseSizeBytes: 20 * 2 ** 30 } });
    expect(await next.after('Measure database size', large, {})).toBe('Back up database (Fargate)');
    // Not a Task state, or no such state: no guess.
    expect(await next.after('Which action?', backup, {})).toBeUndefined();
    expect(await next.after('No such state', backup, {})).toBeUndefined();
  });

  test('a warm-ahead that arrives after the deployment stopped starts nothing (it would outlive the run)', async () => {
    // Prepare
    const listeners = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPServerWrap').length;
    const listenersBefore = listeners();
    const started: EnvironmentEvent[] = [];
    const deployment = await startRigDeployment({
      databaseUrl: rigInfo().databaseUrl,
      database: 'postgres',
      environments: {
        oneFunctionAtATime: true,
        warmAhead: true,
        functionIsolation: 'thread',
        onEnvironment: (e) => {
          if (e.change === 'started') started.push(e);
        },
      },
    });
    // Act: the run is over; a late guess (the report after the workflow function's state) arrives.
    await deployment.stop();
    await deployment.warmAhead?.('report', 'workflow');
    // Assert: no environment, and no gateway endpoint opened for it (either would keep the process alive)
    expect(deployment.warmAhead).toBeDefined();
    expect(started).toEqual([]);
    expect(listeners()).toBe(listenersBefore);
  }, 120_000);

  test("a backup as the CLI runs it: functions start ahead of their state, at most two live, none beside the backup's", async () => {
    // Prepare
    const db = await freshDatabase('wfwarm');
    await seedRows(db.target, 2000, { textBytes: 200 });
    const order: (({ kind: 'state' } & StateEvent) | ({ kind: 'environment' } & EnvironmentEvent))[] = [];
    const stepOfState = new Map(synthesizedWorkflow().tasks.map((t) => [t.state, t.step]));
    try {
      // Act
      const run = await runWorkflow(
        { action: 'backup' },
        {
          databaseUrl: db.url,
          database: db.name,
          s3Path: 'direct',
          onEvent: (e) => order.push({ kind: 'state', ...e }),
          environments: {
            oneFunctionAtATime: true,
            warmAhead: true,
            functionIsolation: 'thread',
            onEnvironment: (e) => order.push({ kind: 'environment', ...e }),
          },
        },
      );
      // Assert: the backup is whole
      expect(run.error).toBeUndefined();
      expect(run.ok).toBe(true);
      expect(run.state?.results.backup).toEqual(expect.objectContaining({ sizeBytes: expect.any(Number) }));
      // Environments: never more than the running one and the one waiting ahead.
      let live = 0;
      let most = 0;
      for (const e of order) {
        if (e.kind !== 'environment') continue;
        live += e.change === 'started' ? 1 : -1;
        most = Math.max(most, live);
      }
      expect(most).toBeLessThanOrEqual(2);
      // Some started ahead, and each one started ahead was the next function invoked (no wasted guess).
      const ahead = order.flatMap((e, i) => (e.kind === 'environment' && e.ahead ? [i] : []));
      expect(ahead.length).toBeGreaterThan(0);
      for (const i of ahead) {
        const started = order[i];
        const nextTask = order
          .slice(i + 1)
          .find((e) => e.kind === 'state' && e.type === 'entered' && stepOfState.has(e.state));
        expect(nextTask?.kind === 'state' && stepOfState.get(nextTask.state)).toBe(
          started?.kind === 'environment' && started.step,
        );
      }
      // Nothing started while the backup's state ran.
      const from = order.findIndex(
        (e) => e.kind === 'state' && e.state === 'Back up database' && e.type === 'entered',
      );
      const to = order.findIndex(
        (e) => e.kind === 'state' && e.state === 'Back up database' && e.type === 'exited',
      );
      expect(from).toBeGreaterThan(-1);
      expect(to).toBeGreaterThan(from);
      expect(
        order.slice(from + 1, to).filter((e) => e.kind === 'environment' && e.change === 'started'),
      ).toEqual([]);
    } finally {
      await dropDatabase(db.name);
    }
  }, 300_000);
});
