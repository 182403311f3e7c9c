import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { optionalEnv } from '../shared/env';
import { createLogger } from '../shared/logger';
import { createS3Client } from '../shared/s3';
import { alertFailureCounter } from '../notify/metrics';
import { onExecutionEnded, type EndedOutcome, type ExecutionStatusChange } from './ended';

const log = createLogger('ended');
const bucket = optionalEnv('PGSHIFT_BUCKET');
const deps = {
  channel: {
    sns: new SNSClient({ endpoint: optionalEnv('AWS_ENDPOINT_URL_SNS') }),
    topicArn: optionalEnv('PGSHIFT_TOPIC_ARN'),
    store: bucket ? { s3: createS3Client(), bucket, kmsKeyId: optionalEnv('PGSHIFT_KMS_KEY_ID') } : undefined,
    log,
    countFailure: alertFailureCounter('ended'),
  },
  scheduler: new SchedulerClient({}),
  scheduleGroup: optionalEnv('PGSHIFT_SCHEDULE_GROUP'),
  defaultDatabase: optionalEnv('PGSHIFT_DATABASE'),
  bucket,
};

/** Target of the EventBridge rule on execution status changes (lambdas/ended/ended.ts). */
export async function handler(event: ExecutionStatusChange): Promise<EndedOutcome> {
  return onExecutionEnded(deps, event);
}
