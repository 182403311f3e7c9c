import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SNSClient } from '@aws-sdk/client-sns';
import { loadAlertConfig } from '../shared/config-sections';
import { createLogger } from '../shared/logger';
import { createS3Client } from '../shared/s3';
import type { StepOutput } from '../shared/step';
import { withStepBudget } from '../shared/step-budget';
import { alertFailureCounter } from './metrics';
import { runNotify, type NotifyEvent } from './notify';

const log = createLogger('notify');
const config = loadAlertConfig(process.env, (err) =>
  log.warn('notify setting ignored, its default kept', { error: err.message, ...err.details }),
);
const { topicArn, bucket } = config;
// AWS_ENDPOINT_URL_SNS is also read by the SDK itself; passing it keeps local runs explicit.
const sns = new SNSClient({ endpoint: config.snsEndpoint });
const scheduler = new SchedulerClient({});
const store = bucket ? { s3: createS3Client(), bucket, kmsKeyId: config.kmsKeyId } : undefined;
const deps = {
  channel: { sns, topicArn, store, log, countFailure: alertFailureCounter('notify') },
  scheduler,
  watchdog: {
    roleArn: config.schedulerRoleArn,
    groupName: config.scheduleGroup,
    warningMinutes: config.warningMinutes,
  },
  defaultDatabase: config.defaultDatabase,
  bucket,
};

/** Notify step (lambdas/notify/notify.ts): alerts and the duration watchdog, its output within the state's budget. */
export const handler: (event: NotifyEvent) => Promise<StepOutput> = withStepBudget(
  { step: 'notify', store, log },
  (event: NotifyEvent) => runNotify(deps, event),
);
