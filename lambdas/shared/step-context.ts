/**
 * What every step handler derives from its event and configuration before it does its work: the database's
 * logical name, the execution's segment of S3 keys and the object store (docs/decisions.md, "stepContext").
 */
import type { PgshiftConfig } from './config';
import { taskResultKey } from './keys';
import { createS3Client, type ObjectStore } from './s3';
import type { StepEvent } from './step';

/** The part of the configuration the context reads (the workflow function has no database settings). */
export type StepContextConfig = Pick<PgshiftConfig, 'bucket' | 'kmsKeyId' | 's3Endpoint' | 'databaseName'>;

export interface StepContext {
  /**
   * The logical database name in S3 keys, outputs and alerts: the configured one (PGSHIFT_DATABASE), else the
   * input's, else the database the function connected to, else `unknown`.
   */
  database: string;
  /** The execution's name (the last part of its ARN when the state machine gives none): its S3 key segment. */
  executionName: string;
  /** The bucket and KMS key everything is written with; one client per configuration (per container). */
  store: ObjectStore;
}

/** What keys name a database by when nothing says which one it is. */
export const UNKNOWN_DATABASE = 'unknown';

/** The execution's name: given by the state machine, else the last segment of the execution ARN. */
export function executionName(execution: StepEvent['execution']): string {
  return execution.name ?? execution.id.split(':').pop() ?? execution.id;
}

/** The logical name known before connecting: configured, else the input's (validate fills in the configured one). */
function namedDatabase(
  event: StepEvent,
  config: Pick<StepContextConfig, 'databaseName'>,
): string | undefined {
  return config.databaseName ?? event.input.database;
}

const stores = new WeakMap<StepContextConfig, ObjectStore>();

/** The object store of a configuration, created once: handlers read their configuration once per container. */
export function objectStore(config: StepContextConfig): ObjectStore {
  let store = stores.get(config);
  if (!store) {
    store = {
      s3: createS3Client({ endpoint: config.s3Endpoint }),
      bucket: config.bucket,
      kmsKeyId: config.kmsKeyId,
    };
    stores.set(config, store);
  }
  return store;
}

/**
 * The context of one invocation. `connected` is the database target the function resolved, whose name is the
 * last fallback of the logical name; a function that does not connect (Fargate's result) passes none.
 */
export function stepContext(
  event: StepEvent,
  config: StepContextConfig,
  connected?: { database: string },
): StepContext {
  return {
    database: namedDatabase(event, config) ?? connected?.database ?? UNKNOWN_DATABASE,
    executionName: executionName(event.execution),
    store: objectStore(config),
  };
}

/**
 * Where a Fargate task leaves its step's output and `Read Fargate … result` reads it back: both call this, with
 * what both know without connecting (the configured name, the input's), so the two keys are one by construction.
 */
export function fargateResultKey(
  event: StepEvent,
  config: Pick<StepContextConfig, 'databaseName'>,
  step: string,
): string {
  return taskResultKey(
    namedDatabase(event, config) ?? UNKNOWN_DATABASE,
    executionName(event.execution),
    step,
  );
}
