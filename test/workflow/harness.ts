/**
 * Runs the deployed artifacts locally: the synthesized state machine (the template `cdk deploy` uploads),
 * each Task executed from its bundled asset in a child process with the template's Handler, Timeout and
 * environment (bin/cli/local-deployment.ts), connecting to the rig's PostgreSQL with sslmode=verify-full
 * through the database secret, as deployed. After each run, every AWS request the functions made is
 * IAM-simulated against the template's policies; a request AWS would deny fails the run.
 *
 * The substitutions, and nothing else (see LocalSubstitutions): the rig's S3/SNS stand-in and bucket/topic,
 * the secret's value (the rig's server), the rig's CA standing in for the RDS bundle at
 * certs/rds-global-bundle.pem, the rig's pg tools for the image's, the test's migrations folder for the one
 * baked into the migrate asset, and the test database's logical name.
 */
import * as path from 'node:path';
import type { RecordedCall } from '../../bin/cli/aws-gateway';
import {
  deploymentRunOptions,
  localStackContext,
  startLocalDeployment,
  type LocalDeployment,
  type LocalDeploymentOptions,
} from '../../bin/cli/local-deployment';
import { LOCAL_SECRET_ARN } from '../../bin/cli/local-deployment';
import {
  resolveWorkflow,
  runLocalWorkflow,
  type LocalRunResult,
  type ResolvedWorkflow,
  type StateEvent,
  type StepHandler,
} from '../../bin/cli/local-runner';
import { synthesizeAssembly, type SynthesizedAssembly } from '../../bin/cli/synth';
import { targetFromUrl } from '../../lambdas/shared/db';
import { deniedAuthorizations } from '../helpers/iam-simulation';
import { rigInfo } from '../rig/helpers';

const assemblies = new Map<string, SynthesizedAssembly>();

/** Context the workflow tests may change from cdk.json's, each value a deployment of its own. */
export interface StackOverrides {
  /** `workflow.fargateThresholdBytes`: small, so a test database crosses it. @default cdk.json's */
  fargateThresholdBytes?: number;
}

/** The deployed stack as the workflow tests synthesize it (cached across runs and test files). */
export function synthesizedAssembly(overrides: StackOverrides = {}): SynthesizedAssembly {
  const key = JSON.stringify(overrides);
  let assembly = assemblies.get(key);
  if (!assembly) {
    assembly = synthesizeAssembly(localStackContext({ sslMode: 'verify-full', ...overrides }));
    assemblies.set(key, assembly);
  }
  return assembly;
}

/** The stack synthesized with other `workflow` context values (a separate synthesis, cached as the default one). */
export function synthesizedAssemblyWith(workflow: Record<string, unknown>): SynthesizedAssembly {
  const context = localStackContext({ sslMode: 'verify-full' }) as {
    pgshift: Record<string, unknown> & { workflow?: Record<string, unknown> };
  };
  return synthesizeAssembly({
    ...context,
    pgshift: { ...context.pgshift, workflow: { ...context.pgshift.workflow, ...workflow } },
  });
}

/** Synthesizes (or reads the cache) once per test file: the same code path as `pgshift local`. */
export function synthesizedWorkflow(overrides: StackOverrides = {}): ResolvedWorkflow {
  return resolveWorkflow(synthesizedAssembly(overrides).template);
}

export const EXAMPLE_MIGRATIONS = path.resolve(__dirname, '..', '..', 'examples', 'migrations');

export interface RunOptions {
  databaseUrl: string;
  database: string;
  migrationsDir?: string;
  onEvent?: (event: StateEvent) => void;
  /** Each line a function logged (Powertools JSON), with the function's logical id. */
  onLog?: (source: string, line: string) => void;
  /**
   * Sees the deployment before it stops (its recorded calls, its gateway's schedules) with the run that ended;
   * may deliver events to it (deployment.deliverEvent). Its calls are IAM-simulated too.
   */
  inspect?: (deployment: LocalDeployment, run: LocalRunResult) => void | Promise<void>;
  /** Skips the IAM simulation (only for tests of the simulation itself). */
  skipIamCheck?: boolean;
  /** When the (mocked) Scheduler fires the watchdog. @default the schedule's own time */
  scheduleDelayMs?: (at: Date) => number;
  /** Aborts the execution, as StopExecution would, when this returns true for a state event. */
  abortWhen?: (event: StateEvent) => boolean;
  /** Replaces the definition's TimeoutSeconds, to see a TIMED_OUT execution. */
  timeoutSeconds?: number;
  /**
   * Wraps a step's deployed handler (only for tests of what the platform does with a misbehaving step, e.g. an
   * output over 256 KB; the test's name says so).
   */
  wrapHandler?: (step: string, handler: StepHandler) => StepHandler;
  /** Another synthesis of the stack (synthesizedAssemblyWith). @default synthesizedAssembly() */
  assembly?: SynthesizedAssembly;
  /** Operator settings the template leaves to the environment (e.g. PGSHIFT_PREFLIGHT_* thresholds). */
  extraEnv?: Record<string, string>;
  /** Deploys the stack synthesized with these context changes. @default cdk.json's context */
  stack?: StackOverrides;
  /** S3 through the recording gateway, or straight to the store as the CLI runs it. @default 'recorded' */
  s3Path?: 'recorded' | 'direct';
  /** How function environments live (as `pgshift local` sets them). @default every one kept warm, in processes */
  environments?: Pick<
    LocalDeploymentOptions,
    'oneFunctionAtATime' | 'warmAhead' | 'functionIsolation' | 'onEnvironment'
  >;
}

/**
 * The "Step Functions Execution Status Change" event EventBridge delivers for a run that ended, with the
 * fields Step Functions fills in (docs.aws.amazon.com/step-functions/latest/dg/eventbridge-integration.html).
 */
export function executionStatusChange(
  deployment: LocalDeployment,
  run: LocalRunResult,
  input: unknown,
): Record<string, unknown> {
  const name = run.executionId.split(':').pop() as string;
  return {
    version: '0',
    id: `local-${name}`,
    'detail-type': 'Step Functions Execution Status Change',
    source: 'aws.states',
    account: '000000000000',
    time: new Date(run.stopDate).toISOString(),
    region: 'us-east-1',
    resources: [run.executionId],
    detail: {
      executionArn: run.executionId,
      stateMachineArn: deployment.stateMachineArn,
      name,
      status: run.status,
      startDate: run.startDate,
      stopDate: run.stopDate,
      input: JSON.stringify(input),
      output: null,
      error: run.status === 'FAILED' ? (run.error?.name ?? null) : null,
      cause: run.status === 'FAILED' ? (run.error?.message ?? null) : null,
    },
  };
}

/** The secret as RDS stores it, for the rig's server (the host name the rig's certificate names). */
export function rigSecretValue(databaseUrl: string): string {
  const t = targetFromUrl(databaseUrl);
  return JSON.stringify({
    engine: 'postgres',
    host: 'localhost',
    port: t.port,
    username: t.user,
    password: t.password,
    dbname: t.database,
  });
}

export async function startRigDeployment(
  options: Omit<RunOptions, 'onEvent' | 'abortWhen' | 'timeoutSeconds' | 'wrapHandler'>,
): Promise<LocalDeployment> {
  const rig = rigInfo();
  if (!rig.pg.caFile)
    throw new Error('the rig runs without TLS (openssl missing): the workflow tests need it');
  return startLocalDeployment({
    assembly: options.assembly ?? synthesizedAssembly(options.stack),
    // As the CLI does: each cold start after the first loads the bundle's compiled code.
    codeCache: true,
    substitutions: {
      storeEndpoint: rig.s3.endpoint,
      snsEndpoint: rig.sns.endpoint,
      bucket: rig.s3.bucket,
      topicArn: rig.sns.topicArn,
      databaseName: options.database,
      databaseSecret: { arn: LOCAL_SECRET_ARN, value: rigSecretValue(options.databaseUrl) },
      caBundleFile: rig.pg.caFile,
      pgBin: rig.pg.bin,
      migrationsDir: options.migrationsDir ?? EXAMPLE_MIGRATIONS,
      extraEnv: { POWERTOOLS_LOG_LEVEL: process.env.PGSHIFT_TEST_LOG_LEVEL ?? 'WARN', ...options.extraEnv },
    },
    onLog: options.onLog,
    scheduleDelayMs: options.scheduleDelayMs,
    s3Path: options.s3Path,
    ...options.environments,
  });
}

/** Fails with every request AWS would deny, naming the caller, the action, the resource and why. */
export async function assertIamAllows(
  deployment: LocalDeployment,
  calls: RecordedCall[] = deployment.calls,
): Promise<void> {
  const denied = await deniedAuthorizations(
    deployment.resolved,
    calls.flatMap((c) => c.authorizations),
  );
  if (denied.length > 0) {
    throw new Error(
      `IAM would deny ${denied.length} request(s) made in this run:\n` +
        denied
          .map((d) => `  - ${d.authorization.action} by ${d.authorization.principal}: ${d.why}`)
          .join('\n'),
    );
  }
}

export async function runWorkflow(input: unknown, options: RunOptions): Promise<LocalRunResult> {
  const logs: string[] = [];
  const deployment = await startRigDeployment({
    ...options,
    onLog: (source, line) => {
      logs.push(`[${source}] ${line}`);
      options.onLog?.(source, line);
    },
  });
  try {
    const deployed = deploymentRunOptions(deployment);
    const wrap = options.wrapHandler;
    const run = await runLocalWorkflow({
      ...deployed,
      ...(wrap ? { loadHandler: (step: string) => wrap(step, deployed.loadHandler(step)) } : {}),
      input,
      onEvent: options.onEvent,
      retryIntervalMs: 10,
      abortWhen: options.abortWhen,
      timeoutSeconds: options.timeoutSeconds,
    });
    await options.inspect?.(deployment, run);
    if (!options.skipIamCheck) await assertIamAllows(deployment);
    if (process.env.PGSHIFT_TEST_SHOW_LOGS && !run.ok) process.stderr.write(`${logs.join('\n')}\n`);
    return run;
  } finally {
    await deployment.stop();
  }
}
