/**
 * The Fargate task entry (`node fargate/task.js`) as the container runs it: PGSHIFT_STEP + PGSHIFT_EVENT in the
 * environment, a real pg_dump against the rig's PostgreSQL, the result object written to the S3 stand-in where
 * `Read Fargate … result` reads it. Modules load in an isolated registry per run, so each run sees its own env.
 */
import { getJson } from '../../lambdas/shared/s3';
import { taskResultKey } from '../../lambdas/shared/keys';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import { captureLogger } from '../../lambdas/shared/logger';
import { fetchObject, freshDatabase, rigInfo, rigStore, seedRows, type TestDatabase } from '../rig/helpers';
import { stepEvent } from '../helpers/step-event';

type TaskModule = typeof import('../../lambdas/fargate/task');

const saved = { ...process.env };

function taskEnv(db: TestDatabase, overrides: Record<string, string>): void {
  const info = rigInfo();
  process.env = {
    ...saved,
    PGSHIFT_BUCKET: info.s3.bucket,
    PGSHIFT_KMS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/fargate-test',
    DATABASE_URL: db.url,
    AWS_ENDPOINT_URL_S3: info.s3.endpoint,
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    ...overrides,
  };
}

async function runMain(log = captureLogger()): Promise<number> {
  let code = -1;
  await jest.isolateModulesAsync(async () => {
    const task = require('../../lambdas/fargate/task') as TaskModule;
    code = await task.main(process.env, log);
  });
  return code;
}

const event = (db: TestDatabase, name: string): StepEvent =>
  stepEvent({ action: 'backup', database: db.name }, { execution: name, params: {} });

describe('Fargate task entry', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('fg');
    await seedRows(db.target, 200);
  });
  afterAll(async () => {
    process.env = saved;
    await db.drop();
  });

  test('backup: runs the handler, writes its StepOutput to runs/<db>/<execution>/backup.json, exits 0', async () => {
    // Prepare
    taskEnv(db, { PGSHIFT_STEP: 'backup', PGSHIFT_EVENT: JSON.stringify(event(db, 'fargate-ok')) });
    // Act
    const code = await runMain();
    // Assess
    expect(code).toBe(0);
    const store = rigStore();
    const key = taskResultKey(db.name, 'fargate-ok', 'backup');
    expect(key).toBe(`runs/${db.name}/fargate-ok/backup.json`);
    const output = await getJson<StepOutput>(store, key);
    expect(output).toMatchObject({ step: 'backup', ok: true, database: db.name });
    const dump = await fetchObject(store, output.key as string);
    expect(dump.sha256).toBe(output.sha256);
  });

  test('a failing step (unreachable database) exits 1, logs the error without the password, writes no result', async () => {
    // Prepare: a port nobody listens on
    taskEnv(db, {
      PGSHIFT_STEP: 'backup',
      PGSHIFT_EVENT: JSON.stringify(event(db, 'fargate-fail')),
      DATABASE_URL: 'postgres://nobody:secret-pw@127.0.0.1:1/nowhere',
    });
    const log = captureLogger();
    // Act
    const code = await runMain(log);
    // Assess: the error is logged by name, without the password
    expect(code).toBe(1);
    expect(log.text()).toContain('fargate task failed');
    expect(log.text()).not.toContain('secret-pw');
    await expect(getJson(rigStore(), taskResultKey(db.name, 'fargate-fail', 'backup'))).rejects.toThrow();
  });

  test.each([
    ['not JSON', '{oops', /PGSHIFT_EVENT: not JSON/],
    ['not an object', '[1]', /must be a JSON object/],
    ['missing fields', '{}', /PGSHIFT_EVENT.input: missing; PGSHIFT_EVENT.execution.id: missing/],
  ])('a bad PGSHIFT_EVENT (%s) is an InputValidationError', async (_what, raw, message) => {
    const { parseTaskEvent } = require('../../lambdas/fargate/task') as TaskModule;
    expect(() => parseTaskEvent(raw)).toThrow(
      expect.objectContaining({ name: 'InputValidationError', message: expect.stringMatching(message) }),
    );
  });

  test('a missing PGSHIFT_STEP or PGSHIFT_EVENT exits 1', async () => {
    taskEnv(db, { PGSHIFT_EVENT: JSON.stringify(event(db, 'no-step')) });
    expect(await runMain()).toBe(1);
    taskEnv(db, { PGSHIFT_STEP: 'backup' });
    expect(await runMain()).toBe(1);
  });

  test('a step that cannot run on Fargate is refused before anything runs', async () => {
    const { runFargateTask } = require('../../lambdas/fargate/task') as TaskModule;
    const log = captureLogger();
    await expect(
      runFargateTask({ store: rigStore(), log }, { step: 'schema', event: event(db, 'bad-step') }),
    ).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringContaining('"schema" cannot run as a Fargate task'),
    });
    expect(log.lines).toEqual([]);
  });
});
