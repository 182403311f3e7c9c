/**
 * Pre-flight checks against the rig's real PostgreSQL: real sessions holding real locks in other connections,
 * real pg_stat_activity / pg_locks / pg_replication_slots. Analyses are built by hand: they are preflight's
 * input contract (the plan step's analyser produces them). CloudWatch is mocked: it has no local stand-in.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { mockClient } from 'aws-sdk-client-mock';
import type { Client } from 'pg';
import type { MigrationAnalysis } from '../../lambdas/shared/analysis';
import { connect, queryOneRow } from '../../lambdas/shared/db';
import { InputValidationError } from '../../lambdas/shared/errors';
import { historyTablesExist, readHistory } from '../../lambdas/shared/history';
import { captureLogger } from '../../lambdas/shared/logger';
import { pgToolVersion } from '../../lambdas/shared/pg-version';
import type { PreflightCheckResult, PreflightReport } from '../../lambdas/shared/step';
import { backupPgDumpVersion } from '../../lambdas/preflight/pg-dump-version';
import { runPreflight } from '../../lambdas/preflight/run-preflight';
import type { PreflightDeps, PreflightOptions } from '../../lambdas/preflight/types';
import { freshDatabase, rigInfo, seedRows, type TestDatabase } from '../rig/helpers';
import { migrationAnalysis } from '../helpers/migration-analysis';
import { present } from '../helpers/present';

const analysis = migrationAnalysis;

function deps(
  db: TestDatabase,
  extra: Partial<PreflightDeps> = {},
): PreflightDeps & { log: ReturnType<typeof captureLogger> } {
  return {
    connect: () => connect(db.target, 'pgshift-preflight'),
    pgDumpVersion: () => pgToolVersion('pg_dump'),
    log: captureLogger(),
    ...extra,
  } as PreflightDeps & { log: ReturnType<typeof captureLogger> };
}

function options(analyses: MigrationAnalysis[], extra: Partial<PreflightOptions> = {}): PreflightOptions {
  return { analyses, executionId: 'local-preflight-test', ...extra };
}

function check(report: PreflightReport, id: string): PreflightCheckResult {
  const found = report.checks.find((c) => c.id === id);
  if (!found) throw new Error(`no check ${id} in report`);
  return found;
}

async function backendPid(c: Client): Promise<number> {
  return (await queryOneRow<{ pid: number }>(c, 'SELECT pg_backend_pid() AS pid')).pid;
}

async function sessionAlive(db: TestDatabase, pid: number): Promise<boolean> {
  const c = await db.client();
  const res = await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
  return res.rowCount === 1;
}

/** DROP ROLE fails while a backend of that role still exits; wait for it (a terminated backend goes quickly). */
async function dropRoleWhenGone(admin: Client, role: string): Promise<void> {
  for (let i = 0; i < 50; i += 1) {
    const res = await admin.query('SELECT 1 FROM pg_stat_activity WHERE usename = $1', [role]);
    if (res.rowCount === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await admin.query(`DROP ROLE ${role}`);
}

describe('preflight: blocking-transactions', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('pf');
    await seedRows(db.target, 200);
    await seedRows(db.target, 10, { table: 'other' });
  });
  afterEach(async () => db.drop());

  test('a transaction held open in another connection on the altered table fails the check, naming its pid', async () => {
    // Prepare: an application session updated a row and left its transaction open.
    const app = await connect(db.target, 'web-app');
    try {
      const pid = await backendPid(app);
      await app.query('BEGIN');
      await app.query('UPDATE items SET body = body WHERE id = 1');
      // Act
      const d = deps(db);
      const report = await runPreflight(d, options([analysis([{ table: 'items', rewrite: true }])]));
      // Assess
      const c = check(report, 'blocking-transactions');
      expect(report.ok).toBe(false);
      expect(c.status).toBe('fail');
      expect(c.message).toContain(`pid ${pid}`);
      expect(c.message).toContain('RowExclusiveLock on public.items');
      expect((c.value as { blocking: { pid: number; application: string }[] }).blocking).toEqual([
        expect.objectContaining({ pid, application: 'web-app' }),
      ]);
      // Nothing was terminated without being asked.
      expect(await sessionAlive(db, pid)).toBe(true);
      // The report and the logs never carry the password.
      expect(JSON.stringify(report) + d.log.text()).not.toContain(rigInfo().pg.password);
    } finally {
      await app.end();
    }
  });

  test('a reader whose lock does not conflict with the migration (CREATE INDEX CONCURRENTLY) does not block', async () => {
    // Prepare: ACCESS SHARE from a short read, migration takes SHARE UPDATE EXCLUSIVE.
    const app = await connect(db.target, 'reporting');
    try {
      await app.query('BEGIN');
      await app.query('SELECT count(*) FROM items');
      // Act
      const report = await runPreflight(
        deps(db),
        options([analysis([{ table: 'items', lock: 'SHARE UPDATE EXCLUSIVE', indexBuild: true }])]),
      );
      // Assess
      expect(check(report, 'blocking-transactions').status).toBe('pass');
    } finally {
      await app.end();
    }
  });

  test('idle-in-transaction sessions are terminated only when asked, and reported by pid, user and application', async () => {
    // Prepare: an idle-in-transaction session on another table, idle past a 0-second threshold.
    const app = await connect(db.target, 'billing-worker');
    const pid = await backendPid(app);
    await app.query('BEGIN');
    await app.query('SELECT * FROM other');
    await new Promise((r) => setTimeout(r, 50));
    const migration = [analysis([{ table: 'items', rewrite: true }])];
    const thresholds = { idleInTransactionSeconds: 0 };
    // Act 1: not asked
    const notAsked = await runPreflight(deps(db), options(migration, { thresholds }));
    // Assess 1
    expect(check(notAsked, 'blocking-transactions').status).toBe('fail');
    expect(check(notAsked, 'blocking-transactions').message).toContain('terminateIdleInTransaction');
    expect(await sessionAlive(db, pid)).toBe(true);
    // Act 2: asked
    const d = deps(db);
    const asked = await runPreflight(d, options(migration, { thresholds, terminateIdleInTransaction: true }));
    // Assess 2
    const c = check(asked, 'blocking-transactions');
    expect(c.status).toBe('warn');
    expect(asked.ok).toBe(true);
    expect((c.value as { terminated: unknown[] }).terminated).toEqual([
      { pid, user: rigInfo().pg.user, application: 'billing-worker' },
    ]);
    expect(c.message).toContain(`pid ${pid}`);
    expect(await sessionAlive(db, pid)).toBe(false);
    await expect(app.query('SELECT 1')).rejects.toThrow();
    expect(d.log.lines.some((l) => l.level === 'warn' && l.extra?.pid === pid)).toBe(true);
    await app.end().catch(() => undefined);
  });

  test('a session pgshift may not terminate is reported with the reason, the others are still terminated, and the check still fails', async () => {
    // Prepare: preflight runs as a role with pg_monitor (sees every session) but no superuser; one idle session is
    // the superuser's (cannot be signalled), one is the role's own (can be). Roles are cluster-wide: a unique name, dropped afterwards.
    const role = `pf_role_${Date.now()}`;
    const admin = await db.client();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pf-role-pw' IN ROLE pg_monitor`);
    await admin.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
    const roleTarget = { ...db.target, user: role, password: 'pf-role-pw' };
    const superSession = await connect(db.target, 'admin-console');
    const ownSession = await connect(roleTarget, 'own-worker');
    try {
      const superPid = await backendPid(superSession);
      const ownPid = await backendPid(ownSession);
      for (const c of [superSession, ownSession]) {
        await c.query('BEGIN');
        await c.query('SELECT * FROM other');
      }
      await new Promise((r) => setTimeout(r, 50));
      // Act
      const report = await runPreflight(
        { ...deps(db), connect: () => connect(roleTarget, 'pgshift-preflight') },
        options([analysis([{ table: 'items', rewrite: true }])], {
          thresholds: { idleInTransactionSeconds: 0 },
          terminateIdleInTransaction: true,
        }),
      );
      // Assess
      const c = check(report, 'blocking-transactions');
      expect(c.status).toBe('fail');
      expect(report.terminated).toEqual([{ pid: ownPid, user: role, application: 'own-worker' }]);
      const value = c.value as {
        terminateFailed: { pid: number; error: string }[];
        blocking: { pid: number }[];
      };
      expect(value.terminateFailed).toEqual([
        { pid: superPid, error: expect.stringMatching(/permission denied|must be a/) },
      ]);
      expect(value.blocking.map((b) => b.pid)).toEqual([superPid]);
      expect(c.message).toContain(`Could not terminate: pid ${superPid}`);
      expect(await sessionAlive(db, superPid)).toBe(true);
      expect(await sessionAlive(db, ownPid)).toBe(false);
    } finally {
      await superSession.end();
      await ownSession.end().catch(() => undefined);
      await admin.query(`REVOKE ALL ON ALL TABLES IN SCHEMA public FROM ${role}`);
      await dropRoleWhenGone(admin, role);
    }
  });

  test("without pg_monitor, another role's session holding a conflicting lock still fails the check; hidden others warn", async () => {
    // Prepare: preflight runs as a plain role; the superuser's sessions hide their state from it.
    const role = `pf_plain_${Date.now()}`;
    const admin = await db.client();
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'pf-role-pw'`);
    const roleTarget = { ...db.target, user: role, password: 'pf-role-pw' };
    const holder = await connect(db.target, 'reporting');
    try {
      const holderPid = await backendPid(holder);
      await holder.query('BEGIN');
      await holder.query('SELECT count(*) FROM items');
      const asPlainRole: PreflightDeps = {
        ...deps(db),
        connect: () => connect(roleTarget, 'pgshift-preflight'),
      };
      // Act: the migration takes ACCESS EXCLUSIVE on items (conflicts), then only touches "other" (does not).
      const onItems = await runPreflight(
        asPlainRole,
        options([analysis([{ table: 'items', rewrite: true }])]),
      );
      const onOther = await runPreflight(
        asPlainRole,
        options([analysis([{ table: 'other', rewrite: true }])]),
      );
      // Assess
      const blocked = check(onItems, 'blocking-transactions');
      expect(blocked.status).toBe('fail');
      expect(blocked.message).toContain(`pid ${holderPid}`);
      expect(blocked.message).toContain('AccessShareLock on public.items');
      expect(blocked.message).toContain('grant it pg_monitor');
      const unseen = check(onOther, 'blocking-transactions');
      expect(unseen.status).toBe('warn');
      expect((unseen.value as { hiddenSessions: number[] }).hiddenSessions).toContain(holderPid);
      expect(unseen.message).toContain("grant pgshift's role pg_monitor");
    } finally {
      await holder.end();
      await dropRoleWhenGone(admin, role);
    }
  });

  test('a long transaction above the threshold blocks; blockingStatus "warn" downgrades it', async () => {
    // Prepare: a transaction open on an untouched table, threshold 0 s.
    const app = await connect(db.target, 'batch-job');
    try {
      const pid = await backendPid(app);
      await app.query('BEGIN');
      await app.query('SELECT * FROM other');
      await new Promise((r) => setTimeout(r, 50));
      const migration = [analysis([{ table: 'items' }])];
      // Act
      const failing = await runPreflight(
        deps(db),
        options(migration, { thresholds: { longTransactionSeconds: 0 } }),
      );
      const warning = await runPreflight(
        deps(db),
        options(migration, { thresholds: { longTransactionSeconds: 0, blockingStatus: 'warn' } }),
      );
      // Assess
      expect(check(failing, 'blocking-transactions')).toMatchObject({ status: 'fail' });
      expect(check(failing, 'blocking-transactions').message).toMatch(
        new RegExp(`pid ${pid} .*transaction open for`),
      );
      expect(check(warning, 'blocking-transactions').status).toBe('warn');
      expect(warning.ok).toBe(true);
    } finally {
      await app.end();
    }
  });
});

describe('preflight: disk-space', () => {
  let db: TestDatabase;
  const cw = mockClient(CloudWatchClient);
  beforeAll(async () => {
    db = await freshDatabase('pf');
    // ~5 MiB of heap plus its primary key.
    await seedRows(db.target, 20000, { textBytes: 200 });
  });
  afterAll(async () => db.drop());
  beforeEach(() => cw.reset());

  function freeStorage(bytes: number): void {
    cw.on(GetMetricDataCommand).resolves({
      MetricDataResults: [{ Id: 'free', Values: [bytes], Timestamps: [new Date()], StatusCode: 'Complete' }],
    });
  }

  test('low FreeStorageSpace vs a migration that rewrites a large table fails (CloudWatch mocked: no local stand-in)', async () => {
    // Prepare: 2 MiB free; the rewrite needs table + index + WAL, x1.5.
    freeStorage(2 * 1024 * 1024);
    const storageMetrics = {
      cloudWatch: new CloudWatchClient({ region: 'us-east-1' }),
      rdsInstanceId: 'prod-db-1',
    };
    // Act
    const report = await runPreflight(
      deps(db, { storageMetrics }),
      options([analysis([{ table: 'items', rewrite: true }])]),
    );
    // Assess
    const c = check(report, 'disk-space');
    expect(c.status).toBe('fail');
    expect(report.ok).toBe(false);
    const value = c.value as { requiredBytes: number; freeBytes: number };
    expect(value.freeBytes).toBe(2 * 1024 * 1024);
    expect(value.requiredBytes).toBeGreaterThan(2 * 5 * 1024 * 1024);
    expect(c.message).toContain('RDS instance prod-db-1');
    const sent = present(cw.commandCalls(GetMetricDataCommand)[0], 'a GetMetricData call').args[0].input;
    expect(sent.MetricDataQueries?.[0]?.MetricStat?.Metric).toEqual({
      Namespace: 'AWS/RDS',
      MetricName: 'FreeStorageSpace',
      Dimensions: [{ Name: 'DBInstanceIdentifier', Value: 'prod-db-1' }],
    });
  });

  test('the same low FreeStorageSpace with a migration that does not rewrite passes (CloudWatch mocked: no local stand-in)', async () => {
    freeStorage(2 * 1024 * 1024);
    const storageMetrics = {
      cloudWatch: new CloudWatchClient({ region: 'us-east-1' }),
      rdsInstanceId: 'prod-db-1',
    };
    const report = await runPreflight(
      deps(db, { storageMetrics }),
      options([analysis([{ table: 'items', rewrite: false }])]),
    );
    expect(check(report, 'disk-space')).toMatchObject({
      status: 'pass',
      value: expect.objectContaining({ requiredBytes: 0 }),
    });
  });

  test("Aurora reads the writer's FreeLocalStorage and counts only index builds (CloudWatch mocked: no local stand-in)", async () => {
    freeStorage(1024 * 1024);
    const storageMetrics = {
      cloudWatch: new CloudWatchClient({ region: 'us-east-1' }),
      rdsClusterId: 'prod-cluster',
    };
    const rewriteOnly = await runPreflight(
      deps(db, { storageMetrics }),
      options([analysis([{ table: 'items', rewrite: true }])]),
    );
    const indexBuild = await runPreflight(
      deps(db, { storageMetrics }),
      options([analysis([{ table: 'items', lock: 'SHARE UPDATE EXCLUSIVE', indexBuild: true }])]),
    );
    expect(check(rewriteOnly, 'disk-space').status).toBe('pass');
    expect(check(indexBuild, 'disk-space').status).toBe('fail');
    const sent = present(cw.commandCalls(GetMetricDataCommand)[0], 'a GetMetricData call').args[0].input;
    expect(sent.MetricDataQueries?.[0]?.MetricStat?.Metric?.MetricName).toBe('FreeLocalStorage');
    expect(sent.MetricDataQueries?.[0]?.MetricStat?.Metric?.Dimensions).toEqual([
      { Name: 'DBClusterIdentifier', Value: 'prod-cluster' },
      { Name: 'Role', Value: 'WRITER' },
    ]);
  });

  test('a configured instance without datapoints warns instead of passing (CloudWatch mocked: no local stand-in)', async () => {
    cw.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'free', Values: [], Timestamps: [] }] });
    const storageMetrics = {
      cloudWatch: new CloudWatchClient({ region: 'us-east-1' }),
      rdsInstanceId: 'typo-db',
    };
    const report = await runPreflight(
      deps(db, { storageMetrics }),
      options([analysis([{ table: 'items', rewrite: true }])]),
    );
    expect(check(report, 'disk-space').status).toBe('warn');
    expect(check(report, 'disk-space').message).toContain('typo-db');
  });

  test('a local run without CloudWatch says skipped with the reason, not pass', async () => {
    const report = await runPreflight(deps(db), options([analysis([{ table: 'items', rewrite: true }])]));
    const c = check(report, 'disk-space');
    expect(c.status).toBe('skipped');
    expect(c.message).toContain('no CloudWatch source configured');
    expect((c.value as { requiredBytes: number }).requiredBytes).toBeGreaterThan(5 * 1024 * 1024);
    expect(report.ok).toBe(true);
  });
});

describe('preflight: versions', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('pf');
  });
  afterAll(async () => db.drop());

  test('pg_dump older than the server fails (a wrapper script in a temp dir prints "pg_dump (PostgreSQL) 13.0")', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-old-pgdump-'));
    const script = join(dir, 'pg_dump');
    writeFileSync(script, '#!/bin/sh\necho "pg_dump (PostgreSQL) 13.0"\n');
    chmodSync(script, 0o755);
    // Act
    const report = await runPreflight(
      deps(db, { pgDumpVersion: () => pgToolVersion('pg_dump', { ...process.env, PGSHIFT_PG_BIN: dir }) }),
      options([]),
    );
    // Assess
    const c = check(report, 'versions');
    expect(c.status).toBe('fail');
    expect(c.message).toMatch(/pg_dump 13\.0 is older than the server \(15\./);
    expect(report.ok).toBe(false);
  });

  test('pg_dump unavailable (no binary, no PGSHIFT_IMAGE_PG_MAJOR) says skipped with the reason, not pass', async () => {
    // Prepare: PGSHIFT_PG_BIN points at an empty directory, as on a NodejsFunction without pg binaries.
    const empty = mkdtempSync(join(tmpdir(), 'pgshift-no-pgdump-'));
    // Act
    const report = await runPreflight(
      deps(db, { pgDumpVersion: backupPgDumpVersion({ ...process.env, PGSHIFT_PG_BIN: empty }) }),
      options([]),
    );
    // Assess
    const c = check(report, 'versions');
    expect(c.status).toBe('skipped');
    expect(c.message).toContain(`pg_dump not found in PGSHIFT_PG_BIN=${empty}`);
    expect(c.message).toContain('PGSHIFT_IMAGE_PG_MAJOR');
    expect(report.ok).toBe(true);
  });

  test("the image's declared pg_dump major (PGSHIFT_IMAGE_PG_MAJOR) is what counts, not a local binary", async () => {
    const older = await runPreflight(
      deps(db, { pgDumpVersion: backupPgDumpVersion({ ...process.env, PGSHIFT_IMAGE_PG_MAJOR: '14' }) }),
      options([]),
    );
    const same = await runPreflight(
      deps(db, { pgDumpVersion: backupPgDumpVersion({ ...process.env, PGSHIFT_IMAGE_PG_MAJOR: '15' }) }),
      options([]),
    );
    expect(check(older, 'versions').status).toBe('fail');
    expect(check(same, 'versions')).toMatchObject({
      status: 'pass',
      value: expect.objectContaining({ pgDump: { text: '15 (image PGSHIFT_IMAGE_PG_MAJOR)', major: 15 } }),
    });
  });

  test("the rig's own pg_dump passes", async () => {
    const report = await runPreflight(deps(db), options([]));
    expect(check(report, 'versions')).toMatchObject({ status: 'pass' });
  });

  test('a directive that needs a newer server fails, naming the migration and the reason', async () => {
    const report = await runPreflight(
      deps(db),
      options([
        analysis([], {
          version: '20240202000000',
          name: 'merge_returning',
          requiresServerVersion: [{ num: 170000, reason: 'MERGE ... RETURNING' }],
        }),
        analysis([], {
          requiresServerVersion: [{ num: 120000, reason: 'ALTER TYPE ... ADD VALUE in a transaction' }],
        }),
      ]),
    );
    const c = check(report, 'versions');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('20240202000000_merge_returning: MERGE ... RETURNING needs server 17+');
    expect(c.message).not.toContain('ADD VALUE');
  });
});

describe('preflight: connections', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('pf');
  });
  afterAll(async () => db.drop());

  test('counts connections per application name and passes with room left', async () => {
    const pool = [await connect(db.target, 'orders-pool'), await connect(db.target, 'orders-pool')];
    try {
      const report = await runPreflight(deps(db), options([]));
      const c = check(report, 'connections');
      expect(c.status).toBe('pass');
      const value = c.value as {
        maxConnections: number;
        byApplication: { application: string; count: number }[];
      };
      expect(value.maxConnections).toBe(200);
      expect(value.byApplication).toContainEqual({ application: 'orders-pool', count: 2 });
    } finally {
      await Promise.all(pool.map((c) => c.end()));
    }
  });

  test('warns above the usage ratio and fails when pgshift itself would not fit', async () => {
    const warn = await runPreflight(deps(db), options([], { thresholds: { connectionsWarnRatio: 0 } }));
    const fail = await runPreflight(deps(db), options([], { thresholds: { connectionsNeeded: 100000 } }));
    expect(check(warn, 'connections').status).toBe('warn');
    expect(check(fail, 'connections').status).toBe('fail');
    expect(check(fail, 'connections').message).toContain('server limit');
  });

  test("a database's own connection limit counts", async () => {
    const admin = await db.client();
    await admin.query(`ALTER DATABASE "${db.name}" CONNECTION LIMIT 3`);
    try {
      const report = await runPreflight(deps(db), options([]));
      expect(check(report, 'connections')).toMatchObject({ status: 'fail' });
      expect(check(report, 'connections').message).toContain('database limit 3');
    } finally {
      await admin.query(`ALTER DATABASE "${db.name}" CONNECTION LIMIT -1`);
    }
  });
});

describe('preflight: replication', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('pf');
    await seedRows(db.target, 2000);
  });
  afterAll(async () => db.drop());

  test('a primary without replicas or slots passes and says so', async () => {
    const report = await runPreflight(deps(db), options([]));
    const c = check(report, 'replication');
    // Other suites never create slots on the shared rig; this file's slot test runs after this one.
    expect(c.status).toBe('pass');
    expect(c.message).toContain('without streaming replicas or replication slots');
    expect(c.value).toMatchObject({ role: 'primary', replicas: [], slots: [] });
  });

  test('an inactive replication slot retaining WAL warns, naming the slot', async () => {
    const admin = await db.client();
    const slot = `pf_slot_${Date.now()}`;
    await admin.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
    try {
      // Generate some WAL behind the slot's restart point.
      await seedRows(db.target, 2000);
      const report = await runPreflight(
        deps(db),
        options([analysis([{ table: 'items', rewrite: true }])], {
          thresholds: { slotRetainedWalBytes: 1024 },
        }),
      );
      const c = check(report, 'replication');
      expect(c.status).toBe('warn');
      expect(c.message).toContain(`slot "${slot}" (inactive) retains`);
      expect(report.ok).toBe(true);
    } finally {
      await admin.query('SELECT pg_drop_replication_slot($1)', [slot]);
    }
  });
});

describe('preflight: timeouts', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('pf');
    await seedRows(db.target, 2000, { textBytes: 200 });
  });
  afterAll(async () => db.drop());

  test('a small rewrite fits the default statement_timeout and time budget', async () => {
    const report = await runPreflight(
      deps(db, { timeBudgetMs: 15 * 60 * 1000 }),
      options([analysis([{ table: 'items', rewrite: true }])]),
    );
    expect(check(report, 'timeouts').status).toBe('pass');
  });

  // A slow rate stands for a large table: ~600 KiB at 10 KiB/s is about a minute.
  const thresholds = { rewriteBytesPerSecond: 10 * 1024 };

  test('a rewrite estimated past half its statement_timeout warns; past all of it, fails', async () => {
    const near = await runPreflight(
      deps(db),
      options([analysis([{ table: 'items', rewrite: true }], { statementTimeout: '100s' })], { thresholds }),
    );
    const over = await runPreflight(
      deps(db),
      options([analysis([{ table: 'items', rewrite: true }], { statementTimeout: '30s' })], { thresholds }),
    );
    expect(check(near, 'timeouts').status).toBe('warn');
    expect(check(near, 'timeouts').message).toContain('against statement_timeout 100s');
    const c = check(over, 'timeouts');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('longer than its statement_timeout 30s, so PostgreSQL would cancel it');
    expect(
      (c.value as { migrations: { statementTimeoutMs: number }[] }).migrations[0]?.statementTimeoutMs,
    ).toBe(30000);
    expect(over.ok).toBe(false);
  });

  test('a run too long for Lambda goes to Fargate, and is refused when Fargate cannot fit it either', async () => {
    const migrations = [analysis([{ table: 'items', rewrite: true }], { statementTimeout: '13min' })];
    const fargate = await runPreflight(
      deps(db, { timeBudgetMs: 20_000, timeMarginMs: 5000, fargateTimeBudgetMs: 3_600_000 }),
      options(migrations, { thresholds }),
    );
    const nowhere = await runPreflight(
      deps(db, { timeBudgetMs: 20_000, timeMarginMs: 5000, fargateTimeBudgetMs: 60_000 }),
      options(migrations, { thresholds }),
    );
    const toFargate = check(fargate, 'timeouts');
    expect(toFargate.status).toBe('warn');
    expect(toFargate.message).toContain('the apply will run on Fargate');
    expect((toFargate.value as { runner: string }).runner).toBe('fargate');
    expect(fargate.ok).toBe(true);
    const refused = check(nowhere, 'timeouts');
    expect(refused.status).toBe('fail');
    expect(refused.message).toMatch(
      /too long for Lambda's time budget of 20s, and the Fargate task's timeout/,
    );
    expect(nowhere.ok).toBe(false);
  });

  test('a disabled lock_timeout warns; an unreadable statement_timeout fails naming the migration', async () => {
    const report = await runPreflight(
      deps(db),
      options([
        analysis([{ table: 'items' }], { lockTimeout: '0' }),
        analysis([{ table: 'items' }], { version: '20240303000000', name: 'typo', statementTimeout: 'soon' }),
      ]),
    );
    const c = check(report, 'timeouts');
    expect(c.status).toBe('fail');
    expect(c.message).toContain('lock_timeout is disabled');
    expect(c.message).toContain('20240303000000_typo: unusable timeout setting');
  });
});

describe('preflight: skipPreflight', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await freshDatabase('pf');
  });
  afterEach(async () => db.drop());

  test('skipped checks are not run and the reason is recorded in history', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pgshift-old-pgdump-'));
    writeFileSync(join(dir, 'pg_dump'), '#!/bin/sh\necho "pg_dump (PostgreSQL) 13.0"\n');
    chmodSync(join(dir, 'pg_dump'), 0o755);
    const report = await runPreflight(
      deps(db, { pgDumpVersion: () => pgToolVersion('pg_dump', { ...process.env, PGSHIFT_PG_BIN: dir }) }),
      options([], {
        executionId: 'local-skip-test',
        skip: { ids: ['versions'], reason: 'pg_dump 17 image rolls out tomorrow (CHG-42)' },
      }),
    );
    expect(check(report, 'versions')).toMatchObject({
      status: 'skipped',
      message: 'Skipped on request: pg_dump 17 image rolls out tomorrow (CHG-42)',
    });
    expect(report.ok).toBe(true);
    const history = await readHistory(await db.client());
    expect(history).toEqual([
      expect.objectContaining({
        event: 'preflight-skip',
        status: 'succeeded',
        executionId: 'local-skip-test',
        details: { checks: ['versions'], reason: 'pg_dump 17 image rolls out tomorrow (CHG-42)' },
      }),
    ]);
  });

  test('an unknown check id or a missing reason is refused before anything is written', async () => {
    const unknown = runPreflight(deps(db), options([], { skip: { ids: ['disk'], reason: 'x' } }));
    await expect(unknown).rejects.toThrow(InputValidationError);
    await expect(unknown).rejects.toThrow(/unknown check id "disk"/);
    const noReason = runPreflight(deps(db), options([], { skip: { ids: ['disk-space'] } }));
    await expect(noReason).rejects.toThrow(/skipReason: required/);
    expect(await historyTablesExist(await db.client())).toBe(false);
  });
});
