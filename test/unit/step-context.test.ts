import { taskResultKey } from '../../lambdas/shared/keys';
import type { StepEvent } from '../../lambdas/shared/step';
import {
  executionName,
  fargateResultKey,
  objectStore,
  stepContext,
  type StepContextConfig,
} from '../../lambdas/shared/step-context';
import { stepEvent } from '../helpers/step-event';

const config = (databaseName?: string): StepContextConfig => ({
  bucket: 'pgshift-bucket',
  kmsKeyId: 'kms-key',
  s3Endpoint: 'http://127.0.0.1:1',
  databaseName,
});
const event = (database?: string): StepEvent =>
  stepEvent({ action: 'backup', ...(database ? { database } : {}) }, { execution: 'run-1' });

describe('stepContext', () => {
  test('the logical database name: configured, else the input, else the connected database, else unknown', () => {
    expect(stepContext(event('input_db'), config('configured_db'), { database: 'connected' }).database).toBe(
      'configured_db',
    );
    expect(stepContext(event('input_db'), config(), { database: 'connected' }).database).toBe('input_db');
    expect(stepContext(event(), config(), { database: 'connected' }).database).toBe('connected');
    expect(stepContext(event(), config()).database).toBe('unknown');
  });

  test("the execution's segment of S3 keys: its name, else the last part of its ARN", () => {
    expect(stepContext(event('db'), config()).executionName).toBe('run-1');
    expect(executionName({ id: 'arn:aws:states:eu-west-1:123456789012:execution:pgshift:from-arn' })).toBe(
      'from-arn',
    );
    expect(executionName({ id: 'local-1700000000000' })).toBe('local-1700000000000');
  });

  test('the object store: the configured bucket and KMS key, one client per configuration', () => {
    // Prepare
    const one = config();
    // Act
    const store = stepContext(event('db'), one).store;
    // Assess
    expect(store).toMatchObject({ bucket: 'pgshift-bucket', kmsKeyId: 'kms-key' });
    expect(objectStore(one)).toBe(store);
    expect(objectStore(config())).not.toBe(store);
  });

  test("the Fargate task's result key is the one `collect` reads, whatever names the database", () => {
    expect(fargateResultKey(event('input_db'), { databaseName: 'configured_db' }, 'backup')).toBe(
      taskResultKey('configured_db', 'run-1', 'backup'),
    );
    expect(fargateResultKey(event('input_db'), {}, 'restore')).toBe(
      taskResultKey('input_db', 'run-1', 'restore'),
    );
    expect(fargateResultKey(event(), {}, 'migrate')).toBe(taskResultKey('unknown', 'run-1', 'migrate'));
  });
});
