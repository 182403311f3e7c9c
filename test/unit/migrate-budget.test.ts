/**
 * The time-budget arithmetic of apply/downgrade on Lambda (lambdas/migrate/budget.ts) and pre-flight's runner
 * choice (chooseApplyRunner): pure functions, a fixed clock.
 */
import { MigrationTimeBudgetError } from '../../lambdas/shared/errors';
import {
  assertFitsBudget,
  cappedStatementTimeoutMs,
  checkBudget,
  durationMs,
  estimatesFromPreflight,
  MIN_STATEMENT_TIMEOUT_MS,
  type TimeBudget,
} from '../../lambdas/migrate/budget';
import { chooseApplyRunner } from '../../lambdas/preflight/checks/timeouts';

const NOW = 1_000_000;
const budget = (remainingMs: number, marginMs = 60_000, estimates?: Record<string, number>): TimeBudget => ({
  deadline: NOW + remainingMs,
  marginMs,
  estimates,
  now: () => NOW,
});

describe('checkBudget', () => {
  test('a migration fits when its estimate plus the margin is at most the time left', () => {
    expect(checkBudget(budget(120_000), 60, NOW)).toEqual({
      fits: true,
      remainingMs: 120_000,
      neededMs: 120_000,
      estimatedMs: 60_000,
    });
    expect(checkBudget(budget(119_999), 60, NOW).fits).toBe(false);
  });

  test('a migration without an estimate still needs the shortest statement_timeout plus the margin', () => {
    expect(checkBudget(budget(60_000 + MIN_STATEMENT_TIMEOUT_MS), 0, NOW).fits).toBe(true);
    expect(checkBudget(budget(60_000 + MIN_STATEMENT_TIMEOUT_MS - 1), 0, NOW).fits).toBe(false);
  });
});

describe('durationMs', () => {
  test.each([
    ['13min', 780_000],
    ['5s', 5000],
    ['500', 500],
    ['250ms', 250],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['0', 0],
    ['1500us', 2],
  ])('%s is %d ms, as PostgreSQL reads it', (text, ms) => {
    expect(durationMs(text)).toBe(ms);
  });

  test('a value PostgreSQL would not read is a ConfigurationError naming it', () => {
    expect(() => durationMs('ten minutes')).toThrow(/"ten minutes" is not a duration/);
  });
});

describe('cappedStatementTimeoutMs', () => {
  test('keeps the configured timeout when the time left allows it', () => {
    expect(cappedStatementTimeoutMs('13min', budget(900_000), NOW)).toBe(780_000);
  });

  test('lowers it to the time left before the margin', () => {
    expect(cappedStatementTimeoutMs('13min', budget(300_000), NOW)).toBe(240_000);
  });

  test('a disabled timeout (0) becomes the time left, never "no timeout"', () => {
    expect(cappedStatementTimeoutMs('0', budget(300_000), NOW)).toBe(240_000);
  });

  test('never below the shortest timeout, even past the deadline', () => {
    expect(cappedStatementTimeoutMs('13min', budget(10_000), NOW)).toBe(MIN_STATEMENT_TIMEOUT_MS);
  });
});

describe('assertFitsBudget', () => {
  const m = (version: string, name: string) => ({ version, name });

  test('stops before the next migration that does not fit, naming what was applied and what is pending', () => {
    const b = budget(100_000, 60_000, { '2_big': 50, '3_after': 1 });
    let error: unknown;
    try {
      assertFitsBudget(b, 'apply', [m('1', 'small')], [m('2', 'big'), m('3', 'after')]);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MigrationTimeBudgetError);
    const e = error as MigrationTimeBudgetError;
    expect(e.name).toBe('MigrationTimeBudgetError');
    expect(e.message).toContain('2_big (estimated ~50s) needs ~110s with the 60s margin');
    expect(e.message).toContain('~100s left');
    expect(e.message).toContain('Applied in this run and recorded: 1_small');
    expect(e.message).toContain('still pending: 2_big, 3_after');
    expect(e.details).toMatchObject({
      applied: [{ version: '1', name: 'small' }],
      pending: [
        { version: '2', name: 'big', estimatedSeconds: 50 },
        { version: '3', name: 'after', estimatedSeconds: 1 },
      ],
      remainingMs: 100_000,
      neededMs: 110_000,
      marginMs: 60_000,
    });
  });

  test('counts every migration when they run in one transaction', () => {
    const b = budget(100_000, 60_000, { '1_a': 20, '2_b': 30 });
    expect(() => assertFitsBudget(b, 'apply', [], [m('1', 'a')])).not.toThrow();
    expect(() => assertFitsBudget(b, 'apply', [], [m('1', 'a'), m('2', 'b')], true)).toThrow(
      /the 2 migration\(s\) in one transaction \(estimated ~50s together\)/,
    );
  });

  test('a revert names what was reverted', () => {
    expect(() => assertFitsBudget(budget(1000), 'revert', [m('5', 'e')], [m('4', 'd')])).toThrow(
      /Reverted in this run and recorded: 5_e/,
    );
  });

  test('no budget (Fargate, the CLI) or nothing left to do never stops', () => {
    expect(() => assertFitsBudget(undefined, 'apply', [], [m('1', 'a')])).not.toThrow();
    expect(() => assertFitsBudget(budget(0), 'apply', [m('1', 'a')], [])).not.toThrow();
  });
});

describe('estimatesFromPreflight', () => {
  test("reads the timeouts check's per-migration estimates", () => {
    expect(
      estimatesFromPreflight({
        checks: [
          { id: 'disk-space', status: 'skipped', value: {} },
          {
            id: 'timeouts',
            status: 'pass',
            value: { migrations: [{ migration: '2_big', estimatedSeconds: 12.5 }, { migration: 3 }] },
          },
        ],
      }),
    ).toEqual({ '2_big': 12.5 });
  });

  test('no pre-flight (downgrade) or a skipped check: no estimates', () => {
    expect(estimatesFromPreflight(undefined)).toEqual({});
    expect(estimatesFromPreflight({ checks: [{ id: 'timeouts', status: 'skipped' }] })).toEqual({});
  });
});

describe('chooseApplyRunner', () => {
  const budgets = { lambdaMs: 900_000, marginMs: 60_000, fargateMs: 12 * 3600_000, warnRatio: 0.5 };

  test('Lambda when the estimate plus the margin fits half its budget', () => {
    expect(chooseApplyRunner(390, budgets)).toEqual({ runner: 'lambda' });
  });

  test('Fargate, with a warning, when Lambda cannot fit it and Fargate can', () => {
    const choice = chooseApplyRunner(391, budgets);
    expect(choice.runner).toBe('fargate');
    expect(choice.refusal).toBeUndefined();
    expect(choice.note).toMatch(/will run on Fargate/);
  });

  test('refused when the estimate exceeds the Fargate timeout too', () => {
    const choice = chooseApplyRunner(7 * 3600, budgets);
    expect(choice.refusal).toMatch(
      /too long for Lambda's time budget of 15m 00s.*fargateTimeout\) is 12h 0m/,
    );
  });

  test('refused when Lambda cannot fit it and Fargate is not available', () => {
    const choice = chooseApplyRunner(600, { ...budgets, fargateMs: undefined });
    expect(choice.refusal).toMatch(/Fargate is not available here/);
  });

  test('a runner the input asks for is kept, and refused when it cannot fit', () => {
    expect(chooseApplyRunner(10, budgets, 'fargate')).toEqual({ runner: 'fargate' });
    expect(chooseApplyRunner(600, budgets, 'lambda').refusal).toMatch(/drop runner "lambda"/);
    expect(chooseApplyRunner(7 * 3600, budgets, 'fargate').refusal).toMatch(/raise fargate.timeoutMinutes/);
  });

  test('no Lambda budget (the CLI): nothing to compare', () => {
    expect(chooseApplyRunner(10_000, { warnRatio: 0.5 })).toEqual({ runner: 'lambda' });
  });
});
