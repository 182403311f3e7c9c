/**
 * examples/github-actions/pgshift.yml as GitHub reads it: valid against GitHub's workflow schema (its own
 * parser, @actions/workflow-parser), and doing what docs/ci.md promises: on pull requests lint and a dry run with
 * the PR's folder whose plan lands in the job summary, on pushes to main the apply, both through the OIDC role
 * with `id-token: write`, in bash with pipefail so pgshift's exit code fails the step. Every pgshift command
 * line in it parses with the CLI's own parser.
 */
import * as path from 'node:path';
import { executionInputFrom, parseCommandLine } from '../../bin/cli/args';
import { readWorkflow, workflowProblems, type WorkflowJob } from '../helpers/github-workflow';
import { present } from '../helpers/present';

const FILE = path.resolve(__dirname, '..', '..', 'examples', 'github-actions', 'pgshift.yml');

function runs(job: WorkflowJob): string {
  return job.steps.map((s) => s.run ?? '').join('\n');
}

/** The pgshift command lines of a job's steps (continuation lines joined), split into words. */
function pgshiftCommands(job: WorkflowJob): string[][] {
  const script = runs(job).replace(/\\\n\s*/g, ' ');
  return [...script.matchAll(/^\s*pgshift (.+?)(?:\s*(?:[|>]|2>&1|$))/gm)].map((m) =>
    [...present(m[1], 'a command line').matchAll(/"([^"]*)"|(\S+)/g)].map((w) =>
      present(w[1] ?? w[2], 'a word'),
    ),
  );
}

describe('examples/github-actions/pgshift.yml', () => {
  const workflow = readWorkflow(FILE);
  const planJob = present(workflow.jobs.plan, 'the plan job');
  const applyJob = present(workflow.jobs.apply, 'the apply job');

  test("is valid against GitHub's workflow schema (keys, values, expressions and their contexts)", async () => {
    expect(await workflowProblems(FILE)).toEqual([]);
  });

  test('the schema check is not vacuous: a misspelt permission, an unknown key and an unknown context are found', async () => {
    const content = (await import('node:fs')).readFileSync(FILE, 'utf8');
    const broken = content
      .replace('id-token: write', 'id-token: writ')
      .replace('timeout-minutes: 60', 'timeout-minutes: 60\n    retries: 2')
      .replace('${{ vars.PGSHIFT_CI_ROLE_ARN }}', '${{ secret.PGSHIFT_CI_ROLE_ARN }}');
    const problems = (await workflowProblems(FILE, broken)).join('\n');
    expect(problems).toMatch(/Unexpected value 'writ'/);
    expect(problems).toMatch(/Unexpected value 'retries'/);
    expect(problems).toMatch(/Unrecognized named-value: 'secret'/);
  });

  test('runs on pull requests and on pushes to main', () => {
    expect(Object.keys(workflow.on).sort()).toEqual(['pull_request', 'push']);
    expect(workflow.on.push).toMatchObject({ branches: ['main'] });
    expect(planJob.if).toBe("github.event_name == 'pull_request'");
    expect(applyJob.if).toBe("github.event_name == 'push'");
  });

  test('each job may ask for an OIDC token and assumes the CI role with configure-aws-credentials', () => {
    expect(workflow.permissions).toEqual({ contents: 'read' });
    for (const job of [planJob, applyJob]) {
      expect(job.permissions).toEqual({ contents: 'read', 'id-token': 'write' });
      const assume = job.steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'));
      expect(assume?.with).toMatchObject({ 'role-to-assume': '${{ vars.PGSHIFT_CI_ROLE_ARN }}' });
    }
  });

  test('steps run in bash with pipefail, so a piped pgshift still fails its step', () => {
    expect(workflow.defaults).toEqual({ run: { shell: 'bash' } });
  });

  test('a pull request lints, then pgshift plan dry-runs its own folder on the deployed workflow and posts the Markdown as the job summary', () => {
    const commands = pgshiftCommands(planJob);
    expect(commands.map((c) => c[0])).toEqual(['lint', 'plan']);
    expect(commands[0]?.slice(0, 2)).toEqual(['lint', '$MIGRATIONS_DIR']);
    const plan = parseCommandLine(present(commands[1], 'the plan command'));
    expect(plan).toMatchObject({ command: 'plan', mode: 'remote', positionals: [] });
    expect(plan.flags).toEqual({
      migrations: '$MIGRATIONS_DIR',
      output: '$RUNNER_TEMP/plan.md',
      'state-machine-arn': '$PGSHIFT_STATE_MACHINE_ARN',
      'docs-url': '$PGSHIFT_DOCS_URL',
    });
    expect(executionInputFrom(plan)).toEqual({ action: 'migrate', dryRun: true });
    // The state machine is named as the apply job's `start` names it: plan takes start's targeting flags.
    const apply = present(pgshiftCommands(applyJob)[0], 'the start command');
    expect(parseCommandLine(apply).flags['state-machine-arn']).toBe('$PGSHIFT_STATE_MACHINE_ARN');
    expect(workflow.env?.MIGRATIONS_DIR).toBe('migrations');
  });

  test("the plan step posts the Markdown whenever pgshift wrote it (also after a refusal) and exits with pgshift's code", () => {
    const step = planJob.steps.find((s) => s.run?.includes('pgshift plan'));
    expect(step?.if).toBeUndefined();
    const script = step?.run ?? '';
    const lines = script.split('\n').map((l) => l.trim());
    // pgshift's code is kept past `set -e`, the file appended when it exists, then the code is the step's.
    const at = (text: string) => lines.findIndex((l) => l === text);
    expect(at('set +e')).toBeGreaterThanOrEqual(0);
    expect(at('set +e')).toBeLessThan(lines.findIndex((l) => l.startsWith('pgshift plan')));
    expect(at('code=$?')).toBe(lines.findIndex((l) => l.startsWith('pgshift plan')) + 2);
    expect(at('if [ -f "$RUNNER_TEMP/plan.md" ]; then')).toBeGreaterThan(at('code=$?'));
    expect(at('cat "$RUNNER_TEMP/plan.md" >> "$GITHUB_STEP_SUMMARY"')).toBeGreaterThan(
      at('if [ -f "$RUNNER_TEMP/plan.md" ]; then'),
    );
    expect(lines.filter(Boolean).pop()).toBe('exit "$code"');
  });

  test('a push to main applies with the same folder, never as a dry run', () => {
    const commands = pgshiftCommands(applyJob);
    expect(commands).toHaveLength(1);
    expect(commands[0]?.slice(0, 2)).toEqual(['start', 'migrate']);
    expect(commands[0]).toEqual(expect.arrayContaining(['--wait', '--migrations', '$MIGRATIONS_DIR']));
    expect(commands[0]).not.toContain('--dry-run');
  });

  test('every lint, start and plan command line parses with the CLI parser (no unknown flag)', () => {
    const lines = [...pgshiftCommands(planJob), ...pgshiftCommands(applyJob)];
    expect(lines.map((c) => c[0])).toEqual(['lint', 'plan', 'start']);
    for (const words of lines) expect(() => parseCommandLine(words)).not.toThrow();
    // Not vacuous: a flag plan does not take is refused by the same parser.
    expect(() => parseCommandLine([...present(lines[1], 'the plan command'), '--dry-run'])).toThrow(
      /Unknown option '--dry-run'/,
    );
  });
});
