import { TaskResultMissingError } from '../shared/errors';
import { taskResultKey } from '../shared/keys';
import { getJson, isNotFound, type ObjectStore } from '../shared/s3';
import type { StepOutput } from '../shared/step';

/**
 * A Fargate task (`ecs:runTask.sync`) has no return value: it writes its StepOutput to S3 and this reads it
 * back into the workflow state, so later states see the same shape as after the Lambda variant of the step.
 */
export async function readTaskResult(
  store: ObjectStore,
  database: string,
  executionName: string,
  step: string,
): Promise<StepOutput> {
  const key = taskResultKey(database, executionName, step);
  try {
    return await getJson<StepOutput>(store, key);
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
