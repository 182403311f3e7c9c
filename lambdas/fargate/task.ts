import { loadConfig } from '../shared/config';
import { requireEnv } from '../shared/env';
import { InputValidationError, PgshiftError, errorMessage, errorName } from '../shared/errors';
import { createLogger, type Log } from '../shared/logger';
import { createS3Client, putJson, type ObjectStore } from '../shared/s3';
import { taskResultKey } from '../shared/keys';
import type { StepEvent, StepOutput } from '../shared/step';
import { fitStepOutput } from '../shared/step-budget';

/** A step handler as the Fargate task calls it (the same function Lambda calls). */
export type StepHandler = (event: StepEvent) => Promise<StepOutput>;

/**
 * The steps a Fargate task can run. Loaded lazily so that a backup task never evaluates the restore handler's
 * module-scope configuration (and vice versa).
 */
export const FARGATE_STEPS: Record<string, () => Promise<StepHandler>> = {
  backup: async () => (await import('../backup/handler')).handler,
  restore: async () => (await import('../restore/handler')).handler,
  // apply/downgrade too long for Lambda (params.operation says which).
  migrate: async () => (await import('../migrate/handler')).handler,
};

/** The execution name: given by the state machine, else the last segment of the execution ARN. */
function executionName(event: StepEvent): string {
  return event.execution.name ?? event.execution.id.split(':').pop() ?? event.execution.id;
}

/** Parses PGSHIFT_EVENT (the StepEvent as JSON, from `States.JsonToString`); a bad event is a typed error. */
export function parseTaskEvent(raw: string): StepEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InputValidationError([`PGSHIFT_EVENT: not JSON (${errorMessage(err)})`]);
  }
  const problems: string[] = [];
  const event = parsed as Partial<StepEvent> | null;
  if (typeof event !== 'object' || event === null || Array.isArray(event)) {
    throw new InputValidationError(['PGSHIFT_EVENT: must be a JSON object (a StepEvent)']);
  }
  if (typeof event.input !== 'object' || event.input === null) problems.push('PGSHIFT_EVENT.input: missing');
  if (typeof event.execution?.id !== 'string') problems.push('PGSHIFT_EVENT.execution.id: missing');
  if (problems.length > 0) throw new InputValidationError(problems);
  return event as StepEvent;
}

export interface FargateTaskDeps {
  store: ObjectStore;
  log: Log;
  /** Which handler runs each step; defaults to {@link FARGATE_STEPS}. */
  steps?: Record<string, () => Promise<StepHandler>>;
  /** The configured logical database name (PGSHIFT_DATABASE), which wins over the input's. */
  databaseName?: string;
}

/**
 * Runs one step as a Fargate task: the step's handler, then its StepOutput written to
 * `runs/<database>/<execution name>/<step>.json` (SSE-KMS), where `Read Fargate … result` reads it back.
 * Returns the key written.
 */
export async function runFargateTask(
  deps: FargateTaskDeps,
  task: { step: string; event: StepEvent },
): Promise<{ key: string; output: StepOutput }> {
  const load = (deps.steps ?? FARGATE_STEPS)[task.step];
  if (!load) {
    throw new InputValidationError([
      `PGSHIFT_STEP: "${task.step}" cannot run as a Fargate task (one of: ${Object.keys(deps.steps ?? FARGATE_STEPS).join(', ')})`,
    ]);
  }
  const handler = await load();
  deps.log.info('fargate task starting', { step: task.step, execution: task.event.execution.id });
  const output = await handler(task.event);
  const database =
    deps.databaseName ??
    task.event.input.database ??
    (typeof output.database === 'string' ? output.database : '');
  if (!database) {
    throw new InputValidationError([
      'input.database: missing; the result object cannot be keyed by database',
    ]);
  }
  const key = taskResultKey(database, executionName(task.event), task.step);
  // `Read Fargate … result` puts this into the workflow state: it keeps the same byte budget as a Lambda's output.
  const fitted = await fitStepOutput(
    { step: task.step, store: deps.store, log: deps.log },
    task.event,
    output,
  );
  await putJson(deps.store, key, fitted);
  deps.log.info('fargate task finished', { step: task.step, key });
  return { key, output: fitted };
}

/** Process entry (`node fargate/task.js`): exit 0 when the result is written, 1 after logging any error. */
export async function main(
  env: NodeJS.ProcessEnv = process.env,
  log: Log = createLogger('fargate'),
): Promise<number> {
  try {
    const step = requireEnv('PGSHIFT_STEP', env);
    const event = parseTaskEvent(requireEnv('PGSHIFT_EVENT', env));
    const config = loadConfig(env);
    const store: ObjectStore = {
      s3: createS3Client({ endpoint: config.s3Endpoint }),
      bucket: config.bucket,
      kmsKeyId: config.kmsKeyId,
    };
    await runFargateTask({ store, log, databaseName: config.databaseName }, { step, event });
    return 0;
  } catch (err) {
    log.error('fargate task failed', {
      errorName: errorName(err),
      message: errorMessage(err),
      ...(err instanceof PgshiftError ? { details: err.details } : {}),
    });
    return 1;
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
