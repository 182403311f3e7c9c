import { TaskResultMissingError } from '../shared/errors';
import { getJson, isNotFound, type ObjectStore } from '../shared/s3';
import type { StepOutput } from '../shared/step';
import { parseStepOutput } from '../shared/step-parse';

/**
 * A Fargate task (`ecs:runTask.sync`) has no return value: it writes its StepOutput to S3 and this reads it
 * back into the workflow state, so later states see the same shape as after the Lambda variant of the step.
 */
export async function readTaskResult(store: ObjectStore, key: string, step: string): Promise<StepOutput> {
  try {
    return parseStepOutput(await getJson<unknown>(store, key), step, key);
  } catch (err) {
    if (isNotFound(err)) {
      throw new TaskResultMissingError(
        `The ${step} task finished but wrote no result at ${key}; see the task's logs.`,
        { details: { key, step } },
      );
    }
    throw err;
  }
}
