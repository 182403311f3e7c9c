import { SFNClient } from '@aws-sdk/client-sfn';
import { InputValidationError } from '../shared/errors';
import { optionalEnv, requireEnv } from '../shared/env';
import { createS3Client, type ObjectStore } from '../shared/s3';
import type { StepEvent, StepOutput } from '../shared/step';
import { fitStepOutput } from '../shared/step-budget';
import { readTaskResult } from './collect';
import { findRunningExecutions, validateExecution, type ValidatedExecution } from './validate';

const defaultDatabase = optionalEnv('PGSHIFT_DATABASE');
let sfn: SFNClient | undefined;
let store: ObjectStore | undefined;

/** `Validate input` receives the raw execution input and the context object's ids (docs/workflow.md). */
export interface ValidateEvent {
  params?: { operation?: string };
  raw: unknown;
  execution: StepEvent['execution'];
  stateMachineArn?: string;
}

/** An ARN of a deployed state machine, not the local runner's stand-in: only then is there anything to list. */
function isDeployed(arn: string | undefined): arn is string {
  return arn !== undefined && /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:/.test(arn);
}

/** Workflow housekeeping: validating the input at the start, reading a Fargate task's result. */
export async function handler(event: ValidateEvent | StepEvent): Promise<ValidatedExecution | StepOutput> {
  const operation = event.params?.operation ?? ('raw' in event ? 'validate' : undefined);
  if (operation === 'validate' && 'raw' in event) {
    const arn = event.stateMachineArn;
    return validateExecution(event.raw, event.execution, {
      defaultDatabase,
      findConcurrentRuns: isDeployed(arn)
        ? (database) =>
            findRunningExecutions(
              (sfn ??= new SFNClient({})),
              arn,
              event.execution.id,
              database,
              defaultDatabase,
            )
        : undefined,
    });
  }
  if (operation === 'collect-task-result' && 'input' in event) {
    const step = event.params?.step;
    if (typeof step !== 'string')
      throw new InputValidationError(['collect-task-result: params.step is required']);
    store ??= {
      s3: createS3Client({ endpoint: optionalEnv('AWS_ENDPOINT_URL_S3') }),
      bucket: requireEnv('PGSHIFT_BUCKET'),
      kmsKeyId: optionalEnv('PGSHIFT_KMS_KEY_ID'),
    };
    // Same precedence as the Fargate task that wrote it (lambdas/fargate/task.ts): the configured name first.
    const database = defaultDatabase ?? event.input.database ?? 'unknown';
    const executionName = event.execution.name ?? event.execution.id.split(':').pop() ?? event.execution.id;
    // The task's writer already kept it within budget (lambdas/fargate/task.ts); checked again where it enters the state.
    return fitStepOutput(
      { step: 'workflow', store },
      event,
      await readTaskResult(store, database, executionName, step),
    );
  }
  throw new InputValidationError([`workflow: unknown operation ${JSON.stringify(operation)}`]);
}
