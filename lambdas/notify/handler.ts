import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { optionalEnv } from '../shared/env';
import { createLogger } from '../shared/logger';
import { createS3Client } from '../shared/s3';
import type { StepOutput } from '../shared/step';
import { withStepBudget } from '../shared/step-budget';
import { alertFailureCounter } from './metrics';
import { runNotify, type NotifyEvent } from './notify';

const log = createLogger('notify');
const topicArn = optionalEnv('PGSHIFT_TOPIC_ARN');
const bucket = optionalEnv('PGSHIFT_BUCKET');
// AWS_ENDPOINT_URL_SNS is also read by the SDK itself; passing it keeps local runs explicit.
const sns = new SNSClient({ endpoint: optionalEnv('AWS_ENDPOINT_URL_SNS') });
const scheduler = new SchedulerClient({});
const store = bucket
  ? { s3: createS3Client(), bucket, kmsKeyId: optionalEnv('PGSHIFT_KMS_KEY_ID') }
  : undefined;
const deps = {
  channel: { sns, topicArn, store, log, countFailure: alertFailureCounter('notify') },
  scheduler,
  watchdog: {
    roleArn: optionalEnv('PGSHIFT_SCHEDULER_ROLE_ARN'),
    groupName: optionalEnv('PGSHIFT_SCHEDULE_GROUP'),
    warningMinutes: Number(optionalEnv('PGSHIFT_DURATION_WARNING_MINUTES') ?? '60'),
  },
  defaultDatabase: optionalEnv('PGSHIFT_DATABASE'),
  bucket,
};

/** Notify step (lambdas/notify/notify.ts): alerts and the duration watchdog, its output within the state's budget. */
export const handler: (event: NotifyEvent) => Promise<StepOutput> = withStepBudget(
  { step: 'notify', store, log },
  (event: NotifyEvent) => runNotify(deps, event),
);
