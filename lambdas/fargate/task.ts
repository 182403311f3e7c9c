import { loadConfig } from '../shared/config';
import { requireEnv } from '../shared/env';
import { InputValidationError, PgshiftError, errorMessage, errorName } from '../shared/errors';
import { createLogger, type Log } from '../shared/logger';
import { putJson, type ObjectStore } from '../shared/s3';
import type { StepEvent, StepOutput } from '../shared/step';
import { fitStepOutput } from '../shared/step-budget';
import { fargateResultKey, objectStore } from '../shared/step-context';
import { stepEventSchema } from '../shared/step-parse';

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

/** Parses PGSHIFT_EVENT (the StepEvent as JSON, from `States.JsonToString`); a bad event is a typed error. */
export function parseTaskEvent(raw: string): StepEvent {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InputValidationError([`PGSHIFT_EVENT: not JSON (${errorMessage(err)})`]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InputValidationError(['PGSHIFT_EVENT: must be a JSON object (a StepEvent)']);
  }
  const problems: string[] = [];
  const input = 'input' in parsed ? parsed.input : undefined;
  const execution = 'execution' in parsed ? parsed.execution : undefined;
  const id =
    typeof execution === 'object' && execution !== null && 'id' in execution ? execution.id : undefined;
  if (typeof input !== 'object' || input === null) problems.push('PGSHIFT_EVENT.input: missing');
  if (typeof id !== 'string') problems.push('PGSHIFT_EVENT.execution.id: missing');
  if (problems.length > 0) throw new InputValidationError(problems);
  const event = stepEventSchema.safeParse(parsed);
  if (!event.success) {
    throw new InputValidationError(
      event.error.issues.map((issue) => `PGSHIFT_EVENT.${issue.path.join('.')}: ${issue.message}`),
    );
  }
  return event.data;
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
  // The key `Read Fargate … result` reads (lambdas/workflow/handler.ts): the same function computes both.
  const key = fargateResultKey(task.event, { databaseName: deps.databaseName }, task.step);
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
    await runFargateTask(
      { store: objectStore(config), log, databaseName: config.databaseName },
      { step, event },
    );
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
