import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { loadAlertConfig } from '../shared/config-sections';
import { createLogger } from '../shared/logger';
import { createS3Client } from '../shared/s3';
import { alertFailureCounter } from '../notify/metrics';
import { onExecutionEnded, type EndedOutcome, type ExecutionStatusChange } from './ended';

const log = createLogger('ended');
const config = loadAlertConfig();
const { bucket } = config;
const deps = {
  channel: {
    sns: new SNSClient({ endpoint: config.snsEndpoint }),
    topicArn: config.topicArn,
    store: bucket ? { s3: createS3Client(), bucket, kmsKeyId: config.kmsKeyId } : undefined,
    log,
    countFailure: alertFailureCounter('ended'),
  },
  scheduler: new SchedulerClient({}),
  scheduleGroup: config.scheduleGroup,
  defaultDatabase: config.defaultDatabase,
  bucket,
};

/** Target of the EventBridge rule on execution status changes (lambdas/ended/ended.ts). */
export async function handler(event: ExecutionStatusChange): Promise<EndedOutcome> {
  return onExecutionEnded(deps, event);
}
