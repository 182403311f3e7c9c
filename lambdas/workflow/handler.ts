import { SFNClient } from '@aws-sdk/client-sfn';
import { InputValidationError } from '../shared/errors';
import { optionalEnv, requireEnv } from '../shared/env';
import type { StepEvent, StepOutput } from '../shared/step';
import { fitStepOutput } from '../shared/step-budget';
import { fargateResultKey, objectStore, type StepContextConfig } from '../shared/step-context';
import { readTaskResult } from './collect';
import { findRunningExecutions, validateExecution, type ValidatedExecution } from './validate';

const defaultDatabase = optionalEnv('PGSHIFT_DATABASE');
let sfn: SFNClient | undefined;
/** Read on the first `collect-task-result`: validating the input needs no bucket. */
let collectConfig: StepContextConfig | undefined;

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
    collectConfig ??= {
      bucket: requireEnv('PGSHIFT_BUCKET'),
      kmsKeyId: optionalEnv('PGSHIFT_KMS_KEY_ID'),
      s3Endpoint: optionalEnv('AWS_ENDPOINT_URL_S3'),
      databaseName: defaultDatabase,
    };
    const store = objectStore(collectConfig);
    // The key the Fargate task wrote (lambdas/fargate/task.ts): both come from fargateResultKey.
    const key = fargateResultKey(event, collectConfig, step);
    // The task's writer already kept it within budget (lambdas/fargate/task.ts); checked again where it enters the state.
    return fitStepOutput({ step: 'workflow', store }, event, await readTaskResult(store, key, step));
  }
  throw new InputValidationError([`workflow: unknown operation ${JSON.stringify(operation)}`]);
}
