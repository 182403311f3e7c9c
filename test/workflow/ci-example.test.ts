/**
 * examples/github-actions/pgshift.yml run here as GitHub would run it, against the rig: each job's `if:`, `env:`
 * and `run:` steps, with GitHub's expression engine, in `bash --noprofile --norc -eo pipefail` (what
 * `shell: bash` runs), with the runner's files ($GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT, $RUNNER_TEMP).
 *
 * What a GitHub runner has and this machine has not is substituted, and nothing else:
 * - `uses:` steps: actions/checkout is the test's workspace (the examples/migrations folder as the pull
 *   request's `migrations/`), setup-node is this machine's Node, and configure-aws-credentials is replaced by
 *   endpoints that sign as the CI role: S3 through the local deployment's gateway (recorded as that role), Step
 *   Functions through a stand-in (test/helpers/step-functions-stand-in.ts: the control plane has no local
 *   server) whose executions are the synthesized state machine run locally.
 * - "Install pgshift" (npm ci into a checkout of pgshift): this repository's bin/ is on PATH instead.
 * The deployment is synthesized with `ci.githubOidc`, so the CI role is the template's, and every request
 * the run made, the CI role's and each function's, is IAM-simulated against it.
 */
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { localStackContext, type LocalDeployment } from '../../bin/cli/local-deployment';
import { synthesizeAssembly, type SynthesizedAssembly } from '../../bin/cli/synth';
import { packMigrations } from '../../lambdas/migrate';
import { readHistory } from '../../lambdas/shared/history';
import {
  conditionHolds,
  interpolate,
  readWorkflow,
  type ExpressionContexts,
} from '../helpers/github-workflow';
import { deniedAuthorizations, withoutEncryptionContext } from '../helpers/iam-simulation';
import { startStepFunctionsStandIn, type StepFunctionsStandIn } from '../helpers/step-functions-stand-in';
import { freshDatabase, rigInfo, seedRows, type TestDatabase } from '../rig/helpers';
import { EXAMPLE_MIGRATIONS, startRigDeployment } from './harness';
import { present } from '../helpers/present';
import { z } from 'zod';

const ROOT = path.resolve(__dirname, '..', '..');
const WORKFLOW_FILE = path.join(ROOT, 'examples', 'github-actions', 'pgshift.yml');
const GITHUB = { owner: 'acme', repo: 'app', branch: 'main' };
const PLAN_STEP = 'Dry run on the deployed workflow, plan to the job summary';

/** The stack as `cdk deploy` would with `ci.githubOidc` (the local database and TLS, like every workflow test). */
function ciAssembly(): SynthesizedAssembly {
  const base = localStackContext({ sslMode: 'verify-full' }) as { pgshift: Record<string, unknown> };
  return synthesizeAssembly({ pgshift: { ...base.pgshift, ci: { githubOidc: GITHUB } } });
}

interface StepRun {
  name: string;
  /** Why it did not run here, when it did not. */
  substituted?: string;
  skipped?: boolean;
  code?: number;
  output?: string;
}

function bash(
  script: string,
  cwd: string,
  env: Record<string, string>,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], { cwd, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

function parseOutputs(text: string): Record<string, string> {
  return Object.fromEntries(
    text
      .split('\n')
      .filter((l) => l.includes('='))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

describe('the example GitHub Actions workflow, its run: steps executed against the rig', () => {
  const workflow = readWorkflow(WORKFLOW_FILE);
  let db: TestDatabase;
  let deployment: LocalDeployment;
  let stepFunctions: StepFunctionsStandIn;
  let s3Endpoint: string;
  let ciRole: string;
  let bucketKey: string;
  let workspace: string;

  beforeAll(async () => {
    db = await freshDatabase('ci');
    await seedRows(db.target, 100);
    deployment = await startRigDeployment({
      databaseUrl: db.url,
      database: db.name,
      migrationsDir: EXAMPLE_MIGRATIONS,
      assembly: ciAssembly(),
    });
    const roleId = Object.keys(deployment.resolved.Resources).find(
      (id) => deployment.resolved.Resources[id]?.Type === 'AWS::IAM::Role' && id.startsWith('GithubCiRole'),
    );
    if (!roleId) throw new Error('the synthesized stack has no GithubCiRole: ci.githubOidc was not applied');
    ciRole = `arn:aws:iam::000000000000:role/${roleId}`;
    bucketKey = deployment.functions.find((f) => f.env.PGSHIFT_KMS_KEY_ID)?.env.PGSHIFT_KMS_KEY_ID as string;
    s3Endpoint = await deployment.gateway.endpointFor(ciRole, 'github-actions');
    stepFunctions = await startStepFunctionsStandIn(deployment, ciRole, 'github-actions', {
      retryIntervalMs: 10,
    });
    workspace = await mkdtemp(path.join(os.tmpdir(), 'pgshift-ci-workspace-'));
    await cp(EXAMPLE_MIGRATIONS, path.join(workspace, 'migrations'), { recursive: true });
  }, 600_000);

  afterAll(async () => {
    await stepFunctions?.close();
    await deployment?.stop();
    await db?.drop();
    if (workspace) await rm(workspace, { recursive: true, force: true });
  });

  /** Runs one job of the workflow for an event, step by step, as the runner would. */
  async function runJob(
    jobName: string,
    event: { event_name: string; ref: string },
    checkout = workspace,
  ): Promise<{ steps: StepRun[]; summary: string; runnerTemp: string }> {
    const job = present(workflow.jobs[jobName], `the ${jobName} job`);
    const runnerTemp = await mkdtemp(path.join(os.tmpdir(), 'pgshift-ci-runner-'));
    const summaryFile = path.join(runnerTemp, 'step_summary.md');
    await writeFile(summaryFile, '');
    const contexts: ExpressionContexts & { steps: Record<string, { outputs: Record<string, string> }> } = {
      github: {
        ...event,
        run_id: '4242',
        repository: `${GITHUB.owner}/${GITHUB.repo}`,
        server_url: 'https://github.com',
      },
      vars: {
        PGSHIFT_CI_ROLE_ARN: ciRole,
        PGSHIFT_STATE_MACHINE_ARN: deployment.stateMachineArn,
        PGSHIFT_BUCKET: rigInfo().s3.bucket,
        PGSHIFT_KMS_KEY_ARN: bucketKey,
        AWS_REGION: 'us-east-1',
        PGSHIFT_REPOSITORY: 'acme/pgshift',
      },
      steps: {},
      env: {},
    };
    expect(conditionHolds(job.if, contexts, false)).toBe(true);
    const workflowEnv = Object.fromEntries(
      Object.entries(workflow.env ?? {}).map(([k, v]) => [k, interpolate(String(v), contexts)]),
    );
    contexts.env = workflowEnv;
    const { AWS_PROFILE: _p, AWS_ENDPOINT_URL: _e, ...baseEnv } = process.env;
    const runs: StepRun[] = [];
    let failed = false;
    for (const step of job.steps) {
      const name = step.name ?? step.uses ?? step.run ?? '?';
      if (step.uses) {
        runs.push({
          name,
          substituted: 'uses: an action (the workspace, Node and the CI role endpoints stand in)',
        });
        continue;
      }
      if (name === 'Install pgshift') {
        runs.push({ name, substituted: "npm ci of a pgshift checkout: this repository's bin/ is on PATH" });
        continue;
      }
      if (!conditionHolds(step.if, contexts, failed)) {
        runs.push({ name, skipped: true });
        continue;
      }
      const script = interpolate(step.run as string, contexts);
      const outputFile = path.join(runnerTemp, `output-${runs.length}`);
      await writeFile(outputFile, '');
      const stepEnv = Object.fromEntries(
        Object.entries(step.env ?? {}).map(([k, v]) => [k, interpolate(String(v), contexts)]),
      );
      const { code, output } = await bash(script, checkout, {
        ...(baseEnv as Record<string, string>),
        ...workflowEnv,
        ...stepEnv,
        PATH: `${ROOT}/bin:${process.env.PATH}`,
        GITHUB_WORKSPACE: checkout,
        GITHUB_EVENT_NAME: event.event_name,
        RUNNER_TEMP: runnerTemp,
        GITHUB_STEP_SUMMARY: summaryFile,
        GITHUB_OUTPUT: outputFile,
        GITHUB_PATH: path.join(runnerTemp, 'path'),
        // configure-aws-credentials' place: credentials of the CI role's session, endpoints that sign as it.
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'ASIACIROLESESSION',
        AWS_SECRET_ACCESS_KEY: 'ci-role-session-secret',
        AWS_SESSION_TOKEN: 'ci-role-session-token',
        AWS_ENDPOINT_URL_S3: s3Endpoint,
        AWS_ENDPOINT_URL_SFN: stepFunctions.endpoint,
        POWERTOOLS_LOG_LEVEL: 'CRITICAL',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      });
      if (step.id) contexts.steps[step.id] = { outputs: parseOutputs(await readFile(outputFile, 'utf8')) };
      runs.push({ name, code, output });
      if (code !== 0) failed = true;
    }
    return { steps: runs, summary: await readFile(summaryFile, 'utf8'), runnerTemp };
  }

  const codes = (steps: StepRun[]) =>
    steps.map((s) => [s.name, s.substituted ? 'substituted' : s.skipped ? 'skipped' : s.code]);
  /** What ran of a job (its substituted steps left out): each step's name and exit code, or 'skipped'. */
  const ran = (steps: StepRun[]) => codes(steps).filter(([, outcome]) => outcome !== 'substituted');

  /** A pull request's checkout: the example migrations plus the files it adds to `migrations/`. */
  async function pullRequestCheckout(files: Record<string, string>): Promise<string> {
    const checkout = await mkdtemp(path.join(os.tmpdir(), 'pgshift-ci-pr-'));
    await cp(EXAMPLE_MIGRATIONS, path.join(checkout, 'migrations'), { recursive: true });
    for (const [name, sql] of Object.entries(files)) {
      await writeFile(path.join(checkout, 'migrations', name), sql);
    }
    return checkout;
  }

  test('pull request: lint, then pgshift plan runs a dry run of the PR folder as a bundle on the deployed workflow and posts its Markdown (database unchanged)', async () => {
    // Act
    const { steps, summary } = await runJob('plan', {
      event_name: 'pull_request',
      ref: 'refs/pull/7/merge',
    });
    // Assess: every run: step ran and succeeded.
    const failures = steps.filter((s) => s.code !== undefined && s.code !== 0);
    expect(failures.map((s) => `${s.name} (exit ${s.code}):\n${s.output}`)).toEqual([]);
    expect(codes(steps)).toEqual([
      ['actions/checkout@v4', 'substituted'],
      ['Check out pgshift', 'substituted'],
      ['actions/setup-node@v4', 'substituted'],
      ['Install pgshift', 'substituted'],
      ['Lint the migrations', 0],
      ['aws-actions/configure-aws-credentials@v4', 'substituted'],
      [PLAN_STEP, 0],
    ]);
    expect(summary).toMatch(/### pgshift lint\n```text\n[\s\S]*6 migration\(s\): 0 error\(s\)[\s\S]*```/);
    // The one execution ran the PR's folder as a bundle, as a dry run, to the end.
    const packed = await packMigrations(path.join(workspace, 'migrations'));
    expect(stepFunctions.executions.size).toBe(1);
    const execution = present([...stepFunctions.executions.values()][0], 'the execution');
    expect(JSON.parse(execution.input)).toEqual({
      action: 'migrate',
      dryRun: true,
      migrations: { bundle: packed.bundle, sha256: packed.sha256 },
    });
    expect(execution.run?.status).toBe('SUCCEEDED');
    expect(execution.entered.map((e) => e.name)).toEqual(expect.arrayContaining(['Validate input']));
    const plan = steps.find((s) => s.name === PLAN_STEP);
    expect(plan?.output).toContain(`bundled ${packed.migrations.length} migrations as ${packed.bundle}`);
    expect(plan?.output).toContain(`started ${execution.executionArn}`);
    // The plan's Markdown, after the lint's output: every pending migration, its SQL, the bundle it came from.
    const markdown = summary.slice(summary.indexOf('## pgshift plan'));
    expect(summary.indexOf('### pgshift lint')).toBeLessThan(summary.indexOf('## pgshift plan'));
    expect(markdown).toContain(`**${packed.migrations.length} pending migration(s)**, lint: 0 error(s)`);
    expect(markdown).toContain('Apply would run the SQL below.');
    expect(markdown).toContain(`Migrations: bundle \`${packed.bundle}\`, sha256 \`${packed.sha256}\``);
    for (const m of packed.migrations) expect(markdown).toContain(m.name);
    expect(markdown).toContain('### SQL');
    expect(markdown).toContain('CREATE TABLE app.customers');
    expect(markdown).toContain('CREATE TABLE app.orders');
    expect(markdown).toContain('ALTER TABLE app.customers ADD COLUMN phone');
    const client = await db.client();
    const { rows } = await client.query<{ t: string | null }>(
      "SELECT to_regclass('app.customers')::text AS t",
    );
    expect(rows[0]?.t).toBeNull();
  }, 600_000);

  test('push to main: the same folder applied, its bundle hash in pgshift.history, the outcome in the summary', async () => {
    // Act
    const { steps, summary } = await runJob('apply', { event_name: 'push', ref: 'refs/heads/main' });
    // Assess
    const apply = steps.find((s) => s.name === 'Apply the migrations');
    expect(apply?.code).toBe(0);
    expect(apply?.output).toMatch(/^SUCCEEDED$/m);
    expect(summary).toMatch(/### pgshift apply\n```text\n[\s\S]*SUCCEEDED[\s\S]*```/);
    const packed = await packMigrations(path.join(workspace, 'migrations'));
    const history = await readHistory(await db.client());
    const up = history.filter((h) => h.event === 'up' && h.status === 'succeeded');
    expect(up).toHaveLength(packed.migrations.length);
    expect(new Set(up.map((h) => h.bundleSha256))).toEqual(new Set([packed.sha256]));
  }, 600_000);

  test('pull request whose lint passes but whose dry run apply would refuse: the plan is still posted, its findings say why, and the job fails with 3', async () => {
    // Prepare: after the push, app.customers has rows; the PR adds a NOT NULL column without a default and
    // waives Squawk's offline rule for it. Offline lint passes; only the dry run, which measures the table,
    // finds that the column cannot be added to a table with rows (pgshift's data-aware rule).
    const client = await db.client();
    await client.query(
      "INSERT INTO app.customers (email, name) VALUES ('ada@example.com', 'Ada'), ('bo@example.com', 'Bo')",
    );
    const checkout = await pullRequestCheckout({
      '0007_customer_region.up.sql':
        '-- pgshift:allow adding-required-field the backfill job fills it first\n' +
        'ALTER TABLE app.customers ADD COLUMN region text NOT NULL;\n',
      '0007_customer_region.down.sql': 'ALTER TABLE app.customers DROP COLUMN region;\n',
    });
    const executionsBefore = new Set(stepFunctions.executions.keys());
    // Act
    const { steps, summary } = await runJob(
      'plan',
      { event_name: 'pull_request', ref: 'refs/pull/9/merge' },
      checkout,
    );
    // Assess: lint passed, the plan step ran the dry run and failed the job with pgshift's refusal.
    expect(ran(steps)).toEqual([
      ['Lint the migrations', 0],
      [PLAN_STEP, 3],
    ]);
    expect(summary).toMatch(/### pgshift lint\n```text\n[\s\S]*7 migration\(s\): 0 error\(s\)[\s\S]*```/);
    const plan = steps.find((s) => s.name === PLAN_STEP);
    expect(plan?.output).toMatch(/UnsafeMigrationError: apply would refuse: 1 error-level lint finding/);
    const started = [...stepFunctions.executions.values()].filter(
      (e) => !executionsBefore.has(e.executionArn),
    );
    expect(started).toHaveLength(1);
    const packed = await packMigrations(path.join(checkout, 'migrations'));
    expect(JSON.parse(present(started[0], 'the execution').input)).toMatchObject({
      action: 'migrate',
      dryRun: true,
    });
    expect(
      z.object({ migrations: z.unknown() }).parse(JSON.parse(present(started[0], 'the execution').input))
        .migrations,
    ).toEqual({
      bundle: packed.bundle,
      sha256: packed.sha256,
    });
    // The summary holds the plan although the step failed: the pending migration, its SQL and the finding.
    const markdown = summary.slice(summary.indexOf('## pgshift plan'));
    expect(summary).toContain('## pgshift plan');
    expect(markdown).toContain('**1 pending migration(s)**, lint: 1 error(s)');
    expect(markdown).toContain('**Apply would refuse**');
    expect(markdown).toContain('0007_customer_region.up.sql');
    expect(markdown).toContain('ALTER TABLE app.customers ADD COLUMN region text NOT NULL;');
    expect(markdown).toContain(
      // Linked to the rule's doc in the pgshift checkout the job ran (vars.PGSHIFT_REPOSITORY, PGSHIFT_REF unset).
      '[not-null-column-without-default](https://github.com/acme/pgshift/blob/main/docs/lint-rules.md#not-null-column-without-default)',
    );
    const { rows } = await client.query<{ n: string }>(
      "SELECT count(*)::text AS n FROM information_schema.columns WHERE table_schema = 'app' AND table_name = 'customers' AND column_name = 'region'",
    );
    expect(rows[0]?.n).toBe('0');
    await rm(checkout, { recursive: true, force: true });
  }, 600_000);

  test('pull request with an unsafe migration: lint exits 3 into the summary, the job fails before reaching AWS', async () => {
    // Prepare: the PR adds a DROP TABLE.
    const checkout = await pullRequestCheckout({ '0007_drop_orders.up.sql': 'DROP TABLE app.orders;\n' });
    const executionsBefore = stepFunctions.executions.size;
    const callsBefore = deployment.calls.filter((c) => c.caller === 'github-actions').length;
    // Act
    const { steps, summary } = await runJob(
      'plan',
      { event_name: 'pull_request', ref: 'refs/pull/8/merge' },
      checkout,
    );
    // Assess
    expect(ran(steps)).toEqual([
      ['Lint the migrations', 3],
      [PLAN_STEP, 'skipped'],
    ]);
    expect(summary).toMatch(
      /### pgshift lint\n```text\n[\s\S]*0007_drop_orders\.up\.sql[\s\S]*error[\s\S]*```\n$/,
    );
    expect(stepFunctions.executions.size).toBe(executionsBefore);
    expect(deployment.calls.filter((c) => c.caller === 'github-actions')).toHaveLength(callsBefore);
    await rm(checkout, { recursive: true, force: true });
  }, 120_000);

  test('the CI role made only the requests the workflow needs, and IAM (simulated against the template) allowed every request of both runs', async () => {
    await stepFunctions.close();
    const ciCalls = deployment.calls.filter((c) => c.caller === 'github-actions');
    const actions = new Set(ciCalls.flatMap((c) => c.authorizations.map((a) => a.action)));
    expect([...actions].sort()).toEqual(
      [
        'kms:GenerateDataKey',
        's3:PutObject',
        'states:DescribeExecution',
        'states:GetExecutionHistory',
        'states:StartExecution',
        'kms:Decrypt',
        's3:GetObject',
      ].sort(),
    );
    // What pgshift plan reads and writes: its bundle under bundles/, the dry run's SQL and findings under plans/.
    const s3Keys = (action: string) =>
      ciCalls
        .flatMap((c) => c.authorizations)
        .filter((a) => a.action === action)
        .map((a) => a.resource.replace(/^arn:aws:s3:::[^/]+\//, ''));
    expect(s3Keys('s3:PutObject').length).toBeGreaterThan(0);
    for (const key of s3Keys('s3:PutObject')) expect(key).toMatch(/^bundles\/[0-9a-f]{64}\.json$/);
    expect(s3Keys('s3:GetObject').length).toBeGreaterThan(0);
    for (const key of s3Keys('s3:GetObject')) expect(key).toMatch(/^plans\/.+\/plan\.(sql|json)$/);
    // The simulator drops kms:EncryptionContext keys (test/helpers/iam-simulation.ts); that condition of the CI
    // role is checked in test/infra/github-ci-iam.test.ts.
    const { simulated } = withoutEncryptionContext(deployment.resolved, 'GithubCiRole');
    const denied = await deniedAuthorizations(
      simulated,
      deployment.calls.flatMap((c) => c.authorizations),
    );
    expect(denied.map((d) => `${d.authorization.action} by ${d.authorization.principal}: ${d.why}`)).toEqual(
      [],
    );
    // Not vacuous: the CI requests are the role's own; without its policy, IAM denies every one of them.
    const withoutPolicy = JSON.parse(JSON.stringify(simulated)) as typeof simulated;
    for (const id of Object.keys(withoutPolicy.Resources)) {
      if (id.startsWith('GithubCiRoleDefaultPolicy')) delete withoutPolicy.Resources[id];
    }
    const ciAuthorizations = ciCalls.flatMap((c) => c.authorizations);
    const deniedWithout = await deniedAuthorizations(withoutPolicy, ciAuthorizations);
    expect(new Set(deniedWithout.map((d) => d.authorization.action))).toEqual(actions);
  }, 120_000);
});
