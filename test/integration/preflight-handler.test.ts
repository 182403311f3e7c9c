/**
 * The preflight Lambda handler, configured from the environment as on AWS but with DATABASE_URL (local mode),
 * fed the StepEvent the state machine sends after `Plan and lint migrations`. Handlers load in an isolated
 * module registry (fresh env per load), so errors are matched by name, as Step Functions does.
 */
import { mockClient } from 'aws-sdk-client-mock';
import type { Client } from 'pg';
import type { LockLevel, MigrationAnalysis } from '../../lambdas/shared/analysis';
import { connect, queryOneRow } from '../../lambdas/shared/db';
import { readHistory } from '../../lambdas/shared/history';
import type { PreflightCheckResult, StepEvent, StepOutput } from '../../lambdas/shared/step';
import { freshDatabase, rigInfo, seedRows, type TestDatabase } from '../rig/helpers';
import { migrationAnalysis } from '../helpers/migration-analysis';
import { stepEvent } from '../helpers/step-event';

type Handler = (event: StepEvent) => Promise<StepOutput>;
type CloudWatchModule = typeof import('@aws-sdk/client-cloudwatch');

const ENV_KEYS = [
  'PGSHIFT_BUCKET',
  'DATABASE_URL',
  'POWERTOOLS_LOG_LEVEL',
  'AWS_REGION',
  'PGSHIFT_IMAGE_PG_MAJOR',
  'PGSHIFT_RDS_INSTANCE_ID',
  'PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTION_SECONDS',
  'PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTON_SECONDS',
  'PGSHIFT_APPLY_TIME_BUDGET_SECONDS',
  'PGSHIFT_APPLY_TIME_MARGIN_SECONDS',
  'PGSHIFT_FARGATE_TIME_BUDGET_SECONDS',
];
const savedEnv = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
afterAll(() => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

/** Loads the handler with a fresh env; also returns the CloudWatch module the handler sees, for mocking. */
function loadHandler(
  db: TestDatabase,
  env: Record<string, string> = {},
): { handler: Handler; cloudWatch: CloudWatchModule } {
  for (const k of ENV_KEYS) delete process.env[k];
  Object.assign(process.env, {
    PGSHIFT_BUCKET: rigInfo().s3.bucket,
    DATABASE_URL: db.url,
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    AWS_REGION: 'us-east-1',
    ...env,
  });
  let loaded: { handler: Handler; cloudWatch: CloudWatchModule } | undefined;
  jest.isolateModules(() => {
    loaded = {
      cloudWatch: require('@aws-sdk/client-cloudwatch') as CloudWatchModule,
      handler: (require('../../lambdas/preflight/handler') as { handler: Handler }).handler,
    };
  });
  return loaded!;
}

const analysis = (table: string, lock: LockLevel, rewrite: boolean): MigrationAnalysis =>
  migrationAnalysis([{ table, lock, rewrite }], { name: `alter_${table}` });

const event = (input: Partial<StepEvent['input']>, analyses: MigrationAnalysis[] | undefined): StepEvent =>
  stepEvent(
    { action: 'migrate', ...input },
    {
      execution: 'preflight-handler',
      name: 'pf',
      results: { plan: { step: 'migrate', ok: true, ...(analyses ? { analyses } : {}) } },
    },
  );

function checkOf(out: StepOutput, id: string): PreflightCheckResult {
  const found = (out.checks as PreflightCheckResult[]).find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id}`);
  return found;
}

async function openIdleTransaction(
  db: TestDatabase,
  app: string,
  sql: string,
): Promise<{ c: Client; pid: number }> {
  const c = await connect(db.target, app);
  const { pid } = await queryOneRow<{ pid: number }>(c, 'SELECT pg_backend_pid() AS pid');
  await c.query('BEGIN');
  await c.query(sql);
  return { c, pid };
}

describe('preflight handler', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('pfh');
    await seedRows(db.target, 500);
  });
  afterEach(async () => db.drop());

  test('failed checks return ok: false without throwing; an old image pg_dump and a lock holder both fail; disk is skipped locally', async () => {
    // Prepare: the image declares pg_dump 13 (older than the rig's 15); an application holds a row lock.
    const { handler } = loadHandler(db, { PGSHIFT_IMAGE_PG_MAJOR: '13' });
    const app = await openIdleTransaction(db, 'web-app', 'UPDATE items SET body = body WHERE id = 1');
    try {
      // Act
      const out = await handler(event({}, [analysis('items', 'ACCESS EXCLUSIVE', true)]));
      // Assess
      expect(out).toMatchObject({ step: 'preflight', ok: false });
      expect(out.terminated).toBeUndefined();
      // A small rewrite fits Lambda: the state machine's `Apply runner?` reads this.
      expect(out.applyRunner).toBe('lambda');
      expect(checkOf(out, 'versions')).toMatchObject({ status: 'fail' });
      expect(checkOf(out, 'versions').message).toContain(
        'pg_dump 13 (image PGSHIFT_IMAGE_PG_MAJOR) is older',
      );
      expect(checkOf(out, 'blocking-transactions').message).toContain(`pid ${app.pid}`);
      expect(checkOf(out, 'disk-space').status).toBe('skipped');
      expect((out.checks as PreflightCheckResult[]).map((c) => c.id)).toEqual([
        'disk-space',
        'blocking-transactions',
        'connections',
        'replication',
        'versions',
        'timeouts',
      ]);
      // Fits the state machine: small and plain JSON.
      expect(JSON.stringify(out).length).toBeLessThan(16 * 1024);
      expect(JSON.stringify(out)).not.toContain(rigInfo().pg.password);
    } finally {
      await app.c.end();
    }
  });

  test('skipPreflight is recorded in history with its reason; terminateIdleInTransaction reports the sessions it ended', async () => {
    // Prepare: an idle-in-transaction session past a 0-second threshold set through the environment.
    const { handler } = loadHandler(db, { PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTION_SECONDS: '0' });
    const app = await openIdleTransaction(db, 'billing-worker', 'SELECT 1');
    await new Promise((r) => setTimeout(r, 50));
    // Act
    const out = await handler(
      event(
        {
          skipPreflight: ['replication'],
          skipReason: 'replica rebuild in progress (CHG-7)',
          terminateIdleInTransaction: true,
        },
        [analysis('items', 'ACCESS EXCLUSIVE', false)],
      ),
    );
    // Assess
    expect(out.ok).toBe(true);
    expect(out.terminated).toEqual([
      { pid: app.pid, user: rigInfo().pg.user, application: 'billing-worker' },
    ]);
    expect(checkOf(out, 'blocking-transactions').status).toBe('warn');
    expect(checkOf(out, 'replication')).toMatchObject({
      status: 'skipped',
      message: 'Skipped on request: replica rebuild in progress (CHG-7)',
    });
    const history = await readHistory(await db.client());
    expect(history).toEqual([
      expect.objectContaining({
        event: 'preflight-skip',
        executionId: 'arn:aws:states:us-east-1:000000000000:execution:pgshift:preflight-handler',
        details: { checks: ['replication'], reason: 'replica rebuild in progress (CHG-7)' },
      }),
    ]);
    await app.c.end().catch(() => undefined);
  });

  test('FreeStorageSpace from CloudWatch decides disk-space when PGSHIFT_RDS_INSTANCE_ID is set (mocked: no local stand-in)', async () => {
    // Prepare
    const { handler, cloudWatch } = loadHandler(db, { PGSHIFT_RDS_INSTANCE_ID: 'prod-db-1' });
    const cw = mockClient(cloudWatch.CloudWatchClient);
    try {
      cw.on(cloudWatch.GetMetricDataCommand).resolves({
        MetricDataResults: [{ Id: 'free', Values: [10 * 1024], Timestamps: [new Date()] }],
      });
      // Act
      const rewrite = await handler(event({}, [analysis('items', 'ACCESS EXCLUSIVE', true)]));
      const noRewrite = await handler(event({}, [analysis('items', 'ACCESS EXCLUSIVE', false)]));
      // Assess
      expect(checkOf(rewrite, 'disk-space').status).toBe('fail');
      expect(rewrite.ok).toBe(false);
      expect(checkOf(noRewrite, 'disk-space').status).toBe('pass');
      expect(cw.commandCalls(cloudWatch.GetMetricDataCommand)).toHaveLength(2);
    } finally {
      cw.restore();
    }
  });

  test('bad input and bad configuration throw typed errors (matched by name)', async () => {
    const { handler } = loadHandler(db);
    await expect(handler(event({}, undefined))).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringContaining('results.plan.analyses'),
    });
    await expect(handler(event({ skipPreflight: ['disk'], skipReason: 'typo' }, []))).rejects.toMatchObject({
      name: 'InputValidationError',
      message: expect.stringContaining('"disk"'),
    });
    expect(() => loadHandler(db, { PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTON_SECONDS: '5' })).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining(
          'PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTON_SECONDS is not a pre-flight threshold',
        ),
      }),
    );
    expect(() => loadHandler(db, { PGSHIFT_IMAGE_PG_MAJOR: 'latest' })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError' }),
    );
    expect(() => loadHandler(db, { PGSHIFT_APPLY_TIME_BUDGET_SECONDS: '15min' })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError' }),
    );
    expect(() => loadHandler(db, { PGSHIFT_FARGATE_TIME_BUDGET_SECONDS: '12h' })).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: expect.stringContaining(
          'PGSHIFT_FARGATE_TIME_BUDGET_SECONDS must be a positive number of seconds',
        ),
      }),
    );
    expect(() => loadHandler(db, { PGSHIFT_APPLY_TIME_MARGIN_SECONDS: '-5' })).toThrow(
      expect.objectContaining({ name: 'ConfigurationError' }),
    );
  });
});
