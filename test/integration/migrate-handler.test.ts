/**
 * The migrate Lambda handler, configured from the environment as on AWS but with DATABASE_URL (local mode), called
 * as the state machine does: plan → apply → verify (and baseline, downgrade dry run). Loaded in an isolated
 * module registry, so errors are matched by name, as Step Functions does.
 */
import { createHash } from 'node:crypto';
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getJson, getText } from '../../lambdas/shared/s3';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import { freshDatabase, rigInfo, rigStore, type TestDatabase } from '../rig/helpers';

type Handler = (event: StepEvent) => Promise<StepOutput>;

function loadHandler(db: TestDatabase, migrationsDir: string): Handler {
  const info = rigInfo();
  process.env.PGSHIFT_BUCKET = info.s3.bucket;
  process.env.PGSHIFT_KMS_KEY_ID = 'arn:aws:kms:us-east-1:000000000000:key/handler-test';
  process.env.DATABASE_URL = db.url;
  process.env.AWS_ENDPOINT_URL_S3 = info.s3.endpoint;
  process.env.PGSHIFT_MIGRATIONS_DIR = migrationsDir;
  process.env.POWERTOOLS_LOG_LEVEL = 'CRITICAL';
  let handler: Handler | undefined;
  jest.isolateModules(() => {
    handler = (require('../../lambdas/migrate/handler') as { handler: Handler }).handler;
  });
  return handler!;
}

const execution = {
  id: 'arn:aws:states:us-east-1:000000000000:execution:pgshift:mig-handler',
  name: 'mig-handler',
};

describe('migrate handler', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('mh');
  });
  afterEach(async () => db.drop());

  test('plan writes SQL + findings to S3 and returns a small summary; apply records the execution; verify reads ok', async () => {
    // Prepare
    const dir = await mkdtemp(join(tmpdir(), 'pgshift-mh-'));
    await cp(join(__dirname, '../../examples/migrations'), dir, { recursive: true });
    const handler = loadHandler(db, dir);
    // Act: plan
    const plan = await handler({ input: { action: 'migrate' }, execution, params: { operation: 'plan' } });
    // Assess
    expect(plan).toMatchObject({
      step: 'plan',
      ok: true,
      database: db.name,
      lint: { errors: 0, warnings: 1 },
      blocking: false,
      written: {
        sql: `plans/${db.name}/mig-handler/plan.sql`,
        findings: `plans/${db.name}/mig-handler/plan.json`,
      },
    });
    expect((plan.pending as unknown[]).length).toBe(6);
    expect((plan.analyses as { version: string }[]).map((a) => a.version)).toEqual([
      '1',
      '2',
      '3',
      '4',
      '5',
      '6',
    ]);
    expect(plan.databaseSizeBytes).toBeGreaterThan(1000);
    expect(JSON.stringify(plan).length).toBeLessThan(20000);
    const written = plan.written as { sql: string; findings: string };
    expect(await getText(rigStore(), written.sql)).toContain(
      'CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_customer_id_idx',
    );
    expect(await getJson<{ findings: unknown[] }>(rigStore(), written.findings)).toMatchObject({
      findings: [{ rule: 'prefer-text-field' }],
    });
    // Act: apply, verify
    const applied = await handler({
      input: { action: 'migrate' },
      execution,
      params: { operation: 'apply' },
    });
    expect(applied).toMatchObject({ step: 'migrate', ok: true, appliedCount: 6, alreadyApplied: 0 });
    const verified = await handler({
      input: { action: 'verify' },
      execution,
      params: { operation: 'verify' },
    });
    expect(verified).toMatchObject({
      step: 'migrate',
      operation: 'verify',
      ok: true,
      severity: 'ok',
      appliedCount: 6,
      connection: { ok: true },
    });
    // Downgrade dry run returns the SQL and changes nothing
    const down = await handler({
      input: { action: 'downgrade', steps: 2, dryRun: true },
      execution,
      params: { operation: 'downgrade' },
    });
    expect(down).toMatchObject({ ok: true, dryRun: true, revertedCount: 2 });
    // The SQL stays in S3; the output says where, how big and its sha256.
    const downSql = down.sql as { key: string; bytes: number; sha256: string };
    const downText = await getText(rigStore(), downSql.key);
    expect(downText).toContain('ALTER TABLE app.orders DROP COLUMN status;');
    expect(Buffer.byteLength(downText)).toBe(downSql.bytes);
    expect(createHash('sha256').update(downText).digest('hex')).toBe(downSql.sha256);
    expect(
      await handler({ input: { action: 'verify' }, execution, params: { operation: 'verify' } }),
    ).toMatchObject({ appliedCount: 6 });
  });

  test('plan says blocking and apply refuses an error-level finding itself; verify returns ok:false without throwing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgshift-mh-'));
    await writeFile(join(dir, '1_t.up.sql'), 'CREATE TABLE t (id bigint);');
    await writeFile(join(dir, '2_drop.up.sql'), 'DROP TABLE t;');
    const handler = loadHandler(db, dir);
    const plan = await handler({ input: { action: 'migrate' }, execution, params: { operation: 'plan' } });
    expect(plan).toMatchObject({
      blocking: true,
      lint: { errors: 1 },
      findings: [{ rule: 'ban-drop-table', severity: 'error' }],
    });
    await expect(
      handler({ input: { action: 'migrate' }, execution, params: { operation: 'apply' } }),
    ).rejects.toMatchObject({
      name: 'UnsafeMigrationError',
    });
    await writeFile(
      join(dir, '2_drop.up.sql'),
      '-- pgshift:allow ban-drop-table replaced by t2 in release 7\nDROP TABLE t;',
    );
    expect(
      await handler({ input: { action: 'migrate' }, execution, params: { operation: 'apply' } }),
    ).toMatchObject({ appliedCount: 2 });
    await writeFile(join(dir, '1_t.up.sql'), 'CREATE TABLE t (id bigint, note text);');
    const verified = await handler({
      input: { action: 'verify' },
      execution,
      params: { operation: 'verify' },
    });
    expect(verified).toMatchObject({ ok: false, severity: 'error', checksumMismatches: [{ version: '1' }] });
    await expect(
      handler({ input: { action: 'migrate' }, execution, params: { operation: 'nope' } }),
    ).rejects.toMatchObject({
      name: 'InputValidationError',
    });
  });

  test('baseline marks the database at toVersion', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgshift-mh-'));
    await cp(join(__dirname, '../../examples/migrations'), dir, { recursive: true });
    const handler = loadHandler(db, dir);
    const out = await handler({
      input: { action: 'baseline', toVersion: '3' },
      execution,
      params: { operation: 'baseline' },
    });
    expect(out).toMatchObject({ ok: true, version: '3', markedCount: 3, alembicVersion: null });
    const plan = await handler({
      input: { action: 'migrate' },
      execution: { ...execution, name: 'after-baseline' },
      params: { operation: 'plan' },
    });
    expect((plan.pending as { version: string }[]).map((p) => p.version)).toEqual(['4', '5', '6']);
  });
});
