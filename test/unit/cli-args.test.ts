import { executionInputFrom, parseCommandLine } from '../../bin/cli/args';
import { InputValidationError } from '../../lambdas/shared/errors';

function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof InputValidationError) return err.problems;
    throw err;
  }
  throw new Error('expected an InputValidationError');
}

describe('pgshift command line', () => {
  test('local migrate --dry-run becomes the console input {action, dryRun}', () => {
    const cmd = parseCommandLine(['local', 'migrate', '--dry-run', '--database-url', 'postgres://x/y']);
    expect(cmd).toMatchObject({
      command: 'local',
      action: 'migrate',
      flags: { 'database-url': 'postgres://x/y' },
    });
    expect(executionInputFrom(cmd)).toEqual({ action: 'migrate', dryRun: true });
  });

  test('restore takes the backup as an argument and --confirm', () => {
    const cmd = parseCommandLine(['local', 'restore', 'latest', '--confirm', 'app']);
    expect(executionInputFrom(cmd)).toEqual({ action: 'restore', backup: 'latest', confirm: 'app' });
  });

  test('restore --restore-jobs N is the input restoreJobs, with --runner fargate only, a whole number', () => {
    const restore = (...flags: string[]) =>
      executionInputFrom(parseCommandLine(['start', 'restore', 'latest', '--confirm', 'app', ...flags]));
    expect(restore('--runner', 'fargate', '--restore-jobs', '4')).toEqual({
      action: 'restore',
      backup: 'latest',
      confirm: 'app',
      runner: 'fargate',
      restoreJobs: 4,
    });
    expect(problems(() => restore('--restore-jobs', '2'))).toEqual([
      expect.stringMatching(/^--restore-jobs: needs runner "fargate"/),
    ]);
    expect(problems(() => restore('--runner', 'fargate', '--restore-jobs', 'two'))).toEqual([
      '--restore-jobs must be a whole number',
    ]);
    expect(problems(() => restore('--runner', 'fargate', '--restore-jobs', '0'))).toEqual([
      expect.stringMatching(/^--restore-jobs/),
    ]);
  });

  test('downgrade --steps and --to map to steps and toVersion, and not both', () => {
    expect(executionInputFrom(parseCommandLine(['start', 'downgrade', '--steps', '2']))).toEqual({
      action: 'downgrade',
      steps: 2,
    });
    expect(executionInputFrom(parseCommandLine(['start', 'downgrade', '--to', '3']))).toEqual({
      action: 'downgrade',
      toVersion: '3',
    });
    expect(
      problems(() =>
        executionInputFrom(parseCommandLine(['start', 'downgrade', '--to', '3', '--steps', '1'])),
      ),
    ).toEqual(['downgrade: give either steps or toVersion, not both']);
  });

  test('--migrations-bundle takes the key or the bare sha256 and becomes the input field migrations', () => {
    const sha = 'ab'.repeat(32);
    const expected = { action: 'migrate', migrations: { bundle: `bundles/${sha}.json`, sha256: sha } };
    for (const value of [`bundles/${sha}.json`, sha]) {
      expect(
        executionInputFrom(parseCommandLine(['local', 'migrate', '--migrations-bundle', value])),
      ).toEqual(expected);
    }
    expect(
      problems(() =>
        executionInputFrom(
          parseCommandLine(['start', 'migrate', '--migrations', 'dir', '--migrations-bundle', sha]),
        ),
      ),
    ).toEqual(['give --migrations DIR (uploads a bundle) or --migrations-bundle KEY (uploaded), not both']);
    expect(
      problems(() => executionInputFrom(parseCommandLine(['local', 'backup', '--migrations-bundle', sha]))),
    ).toEqual([
      'migrations: only applies to action "migrate" or "downgrade" or "verify" or "baseline" or "preflight"',
    ]);
  });

  test('plan is a migrate dry run, remote or local; --sql-only needs a dry run', () => {
    const remote = parseCommandLine(['plan', '--output', 'plan.md', '--migrations', 'migrations']);
    expect(remote).toMatchObject({ command: 'plan', mode: 'remote', flags: { output: 'plan.md' } });
    expect(executionInputFrom(remote)).toEqual({ action: 'migrate', dryRun: true });
    const local = parseCommandLine(['local', 'plan', '--database-url', 'postgres://x/y', '--allow-unsafe']);
    expect(local).toMatchObject({ command: 'plan', mode: 'local' });
    expect(executionInputFrom(local)).toEqual({ action: 'migrate', dryRun: true, allowUnsafe: true });
    expect(problems(() => executionInputFrom(parseCommandLine(['local', 'migrate', '--sql-only'])))).toEqual([
      "--sql-only prints a dry run's SQL: add --dry-run",
    ]);
  });

  test('an unknown flag is one clear problem', () => {
    expect(problems(() => parseCommandLine(['local', 'migrate', '--dryrun']))).toEqual([
      expect.stringContaining("Unknown option '--dryrun'"),
    ]);
  });

  test('an unknown action or command names what is allowed', () => {
    expect(problems(() => parseCommandLine(['local', 'upgrade']))[0]).toMatch(
      /unknown action "upgrade" \(expected one of migrate, backup/,
    );
    expect(problems(() => parseCommandLine(['deploy']))[0]).toBe(
      'unknown command "deploy" (try "pgshift help")',
    );
  });

  test('missing arguments and stray ones are all reported together', () => {
    expect(problems(() => executionInputFrom(parseCommandLine(['local', 'baseline'])))).toEqual(
      expect.arrayContaining(['baseline needs the version the database is at']),
    );
    expect(
      problems(() => executionInputFrom(parseCommandLine(['local', 'report', 'extra', '--steps', 'x']))),
    ).toEqual(['unexpected argument "extra"', '--steps must be a whole number']);
  });

  test('a flag that does not fit the action is refused in flag words', () => {
    expect(problems(() => executionInputFrom(parseCommandLine(['local', 'backup', '--dry-run'])))).toEqual([
      '--dry-run: only applies to action "migrate" or "downgrade"',
    ]);
  });

  test('"local lint <dir>" is the same as "lint <dir>"', () => {
    expect(parseCommandLine(['local', 'lint', 'migrations'])).toMatchObject({
      command: 'lint',
      positionals: ['migrations'],
    });
  });
});
