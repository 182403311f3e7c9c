import { optionalEnv, requireEnv } from '../../lambdas/shared/env';
import { runFargateTask } from '../../lambdas/fargate/task';
import { createLogger } from '../../lambdas/shared/logger';
import { createS3Client } from '../../lambdas/shared/s3';
import type { StepEvent } from '../../lambdas/shared/step';

/**
 * Runs a Fargate state's task in-process: the same entry the container runs (lambdas/fargate/task.ts), which
 * calls the step's handler and writes its result where `Read Fargate … result` looks for it.
 */
export async function runFargateTaskLocally(step: string, event: StepEvent): Promise<void> {
  await runFargateTask(
    {
      store: {
        s3: createS3Client({ endpoint: optionalEnv('AWS_ENDPOINT_URL_S3') }),
        bucket: requireEnv('PGSHIFT_BUCKET'),
        kmsKeyId: optionalEnv('PGSHIFT_KMS_KEY_ID'),
      },
      log: createLogger('fargate'),
      databaseName: optionalEnv('PGSHIFT_DATABASE'),
    },
    { step, event },
  );
}
