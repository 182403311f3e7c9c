import type { SNSClient } from '@aws-sdk/client-sns';
import { errorMessage, errorName } from '../shared/errors';
import { alertMarkerKey } from '../shared/keys';
import type { Log } from '../shared/logger';
import { getJson, isNotFound, putJson, type ObjectStore } from '../shared/s3';
import type { Alert } from './alert';
import { publishAlert } from './publish';

/** What sending an alert needs; every call here reports its own failure instead of throwing. */
export interface AlertChannel {
  sns: SNSClient;
  /** Without a topic nothing is published (local runs without SNS). */
  topicArn?: string;
  /** Where the "already alerted" marker goes; without a store, no marker. */
  store?: ObjectStore;
  log: Log;
  /** Counts an alert-path failure (a CloudWatch metric in Lambda: AlertFailures). */
  countFailure: (operation: string) => void;
}

/** What an alert attempt did: never thrown, always returned, so the run's outcome stays its own. */
export interface AlertDelivery {
  published: boolean;
  messageId?: string;
  markerKey?: string;
  /** The publish (or marker) failure, for the execution output. */
  error?: { name: string; message: string };
  reason?: string;
}

function asError(err: unknown): { name: string; message: string } {
  return { name: errorName(err), message: errorMessage(err) };
}

/** The marker of an alert of `kind` for this execution, when one was published. */
export async function readAlertMarker(
  store: ObjectStore,
  database: string,
  executionName: string,
  kind: Alert['kind'],
): Promise<{ messageId?: string; at?: string } | undefined> {
  try {
    return await getJson(store, alertMarkerKey(database, executionName, kind));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Publishes the alert, then records that it did (`runs/<db>/<execution>/alerts/<kind>.json`). A failure is
 * logged, counted and returned; a marker that cannot be written risks a second alert, never a missing one.
 */
export async function deliverAlert(
  channel: AlertChannel,
  alert: Alert,
  executionName: string | undefined,
): Promise<AlertDelivery> {
  if (!channel.topicArn) return { published: false, reason: 'no topic configured' };
  let messageId: string | undefined;
  try {
    messageId = await publishAlert(channel.sns, channel.topicArn, alert);
    channel.log.info('alert published', { kind: alert.kind, database: alert.database, messageId });
  } catch (err) {
    const error = asError(err);
    channel.log.error('alert could not be published', { kind: alert.kind, database: alert.database, error });
    channel.countFailure('publish');
    return { published: false, error };
  }
  if (!channel.store || !executionName) return { published: true, messageId };
  const markerKey = alertMarkerKey(alert.database, executionName, alert.kind);
  try {
    await putJson(channel.store, markerKey, { kind: alert.kind, messageId, at: new Date().toISOString() });
    return { published: true, messageId, markerKey };
  } catch (err) {
    const error = asError(err);
    channel.log.error('alert published, but its marker could not be written', { markerKey, error });
    channel.countFailure('marker');
    return { published: true, messageId, error };
  }
}
