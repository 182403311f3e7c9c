/**
 * Runs the synthesized state machine (the template `cdk deploy` would upload) locally against the rig, with
 * each run's handlers loaded in a fresh module registry so each test's environment (database, migrations
 * folder) is the one they read.
 */
import * as path from 'node:path';
import {
  resolveWorkflow,
  runLocalWorkflow,
  type LocalRunResult,
  type ResolvedWorkflow,
  type StateEvent,
  type StepHandler,
} from '../../bin/cli/local-runner';
import { runFargateTaskLocally } from '../../bin/cli/local-fargate';
import { synthesizeTemplate } from '../../bin/cli/synth';
import { loadStepHandlers, rigInfo, rigStepEnv } from '../rig/helpers';

const STEPS = [
  'workflow',
  'notify',
  'migrate',
  'preflight',
  'backup',
  'schema',
  'report',
  'restore',
] as const;

let workflow: ResolvedWorkflow | undefined;

/** Synthesizes once per test file: the same code path as `pgshift local`. */
export function synthesizedWorkflow(): ResolvedWorkflow {
  workflow ??= resolveWorkflow(synthesizeTemplate());
  return workflow;
}

export const EXAMPLE_MIGRATIONS = path.resolve(__dirname, '..', '..', 'examples', 'migrations');

export interface RunOptions {
  databaseUrl: string;
  database: string;
  migrationsDir?: string;
  onEvent?: (event: StateEvent) => void;
  env?: Record<string, string>;
}

export async function runWorkflow(input: unknown, options: RunOptions): Promise<LocalRunResult> {
  const info = rigInfo();
  const handlers = loadStepHandlers<StepHandler>(STEPS, {
    ...rigStepEnv(options.databaseUrl),
    PGSHIFT_DATABASE: options.database,
    AWS_ENDPOINT_URL_SNS: info.sns.endpoint,
    PGSHIFT_TOPIC_ARN: info.sns.topicArn,
    PGSHIFT_MIGRATIONS_DIR: options.migrationsDir ?? EXAMPLE_MIGRATIONS,
    ...options.env,
  });
  return runLocalWorkflow({
    workflow: synthesizedWorkflow(),
    input,
    loadHandler: (step) => handlers[step],
    runFargateTask: runFargateTaskLocally,
    onEvent: options.onEvent,
    retryIntervalMs: 10,
  });
}
