import { InputValidationError } from '../../lambdas/shared/errors';
import { parseExecutionInput } from '../../lambdas/shared/input';

function problemsOf(raw: unknown): string[] {
  try {
    parseExecutionInput(raw);
  } catch (err) {
    if (err instanceof InputValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected an InputValidationError');
}

describe('execution input', () => {
  test('a plain migrate is accepted as given', () => {
    expect(parseExecutionInput({ action: 'migrate', dryRun: true })).toEqual({
      action: 'migrate',
      dryRun: true,
    });
  });

  test('every problem is listed at once, unknown fields by name', () => {
    const problems = problemsOf({ action: 'migrate', dryrun: true, steps: 0, runner: 'ec2' });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringContaining('"dryrun"'),
        expect.stringMatching(/^steps:/),
        expect.stringMatching(/^runner:/),
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(3);
  });

  test('an unknown action names the allowed ones', () => {
    expect(problemsOf({ action: 'upgrade' })[0]).toMatch(/^action: .*migrate/);
  });

  test('a field that does not belong to the action is refused', () => {
    expect(problemsOf({ action: 'backup', steps: 2 })).toEqual(['steps: only applies to action "downgrade"']);
  });

  test('baseline needs the version; downgrade takes steps or toVersion, not both', () => {
    expect(problemsOf({ action: 'baseline' })[0]).toMatch(/^toVersion: required/);
    expect(problemsOf({ action: 'downgrade', steps: 1, toVersion: '3' })[0]).toMatch(/not both/);
  });

  test('restoreJobs is for a restore on Fargate only: refused without runner "fargate" and on other actions', () => {
    const base = { action: 'restore', backup: 'latest', confirm: 'app', restoreJobs: 4 };
    expect(parseExecutionInput({ ...base, runner: 'fargate' })).toMatchObject({ restoreJobs: 4 });
    expect(problemsOf(base)).toEqual([expect.stringMatching(/^restoreJobs: needs runner "fargate"/)]);
    expect(problemsOf({ ...base, runner: 'lambda' })).toEqual([
      expect.stringMatching(/^restoreJobs: needs runner "fargate".*on Lambda the restore streams/),
    ]);
    expect(problemsOf({ action: 'backup', restoreJobs: 2 })).toEqual([
      'restoreJobs: only applies to action "restore"',
    ]);
    expect(problemsOf({ ...base, runner: 'fargate', restoreJobs: 0 })[0]).toMatch(/^restoreJobs:/);
  });

  test('skipping preflight checks needs a reason', () => {
    expect(problemsOf({ action: 'migrate', skipPreflight: ['disk-space'] })[0]).toMatch(/^skipReason/);
  });

  test('a migrations bundle is accepted for the migration actions, its key must name its hash', () => {
    const sha256 = 'a'.repeat(64);
    const migrations = { bundle: `bundles/${sha256}.json`, sha256 };
    expect(parseExecutionInput({ action: 'migrate', dryRun: true, migrations })).toEqual({
      action: 'migrate',
      dryRun: true,
      migrations,
    });
    for (const action of ['downgrade', 'verify', 'preflight'])
      expect(parseExecutionInput({ action, migrations }).migrations).toEqual(migrations);
    expect(problemsOf({ action: 'backup', migrations })).toEqual([
      expect.stringMatching(/^migrations: only applies to action "migrate"/),
    ]);
    expect(problemsOf({ action: 'migrate', migrations: { ...migrations, sha256: 'b'.repeat(64) } })).toEqual([
      expect.stringMatching(/^migrations.bundle: must be bundles\/<migrations.sha256>.json/),
    ]);
    expect(problemsOf({ action: 'migrate', migrations: { bundle: '../x', sha256: 'z' } })).toEqual([
      expect.stringMatching(/^migrations.bundle:/),
      expect.stringMatching(/^migrations.sha256:/),
    ]);
    expect(problemsOf({ action: 'migrate', migrations: { ...migrations, key: 'x' } })[0]).toMatch(/"key"/);
  });

  test('input that is not an object is refused clearly', () => {
    expect(problemsOf('migrate')[0]).toMatch(/^input:/);
    expect(problemsOf(null)[0]).toMatch(/^input:/);
  });

  test('the error carries a matchable name and the bad-input outcome', () => {
    try {
      parseExecutionInput({});
    } catch (err) {
      expect((err as Error).name).toBe('InputValidationError');
      expect((err as InputValidationError).outcome).toBe('bad-input');
    }
    expect.assertions(2);
  });
});
