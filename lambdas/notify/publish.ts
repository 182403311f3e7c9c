import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Alert } from './alert';
import { renderSnsMessage } from './render';

/** Publishes an alert to the topic; returns SNS's message id. */
export async function publishAlert(
  sns: SNSClient,
  topicArn: string,
  alert: Alert,
): Promise<string | undefined> {
  const out = await sns.send(new PublishCommand({ TopicArn: topicArn, ...renderSnsMessage(alert) }));
  return out.MessageId;
}
