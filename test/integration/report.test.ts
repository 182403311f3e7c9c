/**
 * The database report on a seeded database: sizes and counts match the server's own numbers, history,
 * Alembic, backups (a real backup through the backup core), locks and long-running queries are found, and
 * the HTML is self-contained, parses, and has the chart and the tables.
 */
import type { Client } from 'pg';
import { parse } from 'node-html-parser';
import { createBackup } from '../../lambdas/backup';
import { buildReport, renderReportHtml, renderReportMarkdown, writeReport } from '../../lambdas/report';
import { diffSnapshots, snapshotSchema } from '../../lambdas/schema';
import { connect, queryOneRow, redactSecrets, withClient } from '../../lambdas/shared/db';
import { ensureHistoryTables, recordHistoryEvent } from '../../lambdas/shared/history';
import { captureLogger } from '../../lambdas/shared/logger';
import { getText } from '../../lambdas/shared/s3';
import { freshDatabase, rigStore, rigTarget, seedRows, type TestDatabase } from '../rig/helpers';

describe('database report (real PostgreSQL, S3 stand-in)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeAll(async () => {
    db = await freshDatabase('rp');
    client = await db.client();
  });
  afterAll(async () => db.drop());

  test('a fresh database: no pgshift tables are created, nothing tracked, no backups', async () => {
    // Act
    const report = await buildReport(
      { client, store: rigStore(), log: captureLogger() },
      { database: db.name },
    );
    // Assess
    expect(report.migrations).toEqual({ tracked: false, applied: [], history: [], alembic: null });
    expect(report.backups).toEqual([]);
    const exists = await client.query<{ s: string | null }>(`SELECT to_regnamespace('pgshift') AS s`);
    expect(exists.rows[0]?.s).toBeNull();
    expect(renderReportMarkdown(report)).toContain('pgshift has not migrated this database yet.');
  });

  test('seeded database: sizes, counts, history, alembic, backups, locks, long queries; HTML parses', async () => {
    // Prepare
    await seedRows(db.target, 2000, { table: 'items' });
    await seedRows(db.target, 7, { table: '<script>alert("x")</script>' });
    await client.query('ANALYZE');
    await client.query(`DELETE FROM items WHERE id <= 100`);
    await ensureHistoryTables(client);
    await client.query(
      `INSERT INTO pgshift.schema_migrations (version, name, checksum, applied_by) VALUES (1, 'create items', 'abc', 'test')`,
    );
    await recordHistoryEvent(client, {
      event: 'up',
      status: 'succeeded',
      executionId: 'exec-1',
      version: 1,
      name: 'create items',
    });
    await client.query(`CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
      INSERT INTO alembic_version VALUES ('ae1027a6acf')`);
    const store = rigStore();
    const backup = await createBackup(
      { store, log: captureLogger() },
      { target: db.target, executionId: 'exec-1', reason: 'test' },
    );
    const before = await snapshotSchema(client);
    await client.query(`ALTER TABLE alembic_version ADD COLUMN note text`);
    const diff = diffSnapshots(before, await snapshotSchema(client));
    const log = captureLogger();
    await client.query('ANALYZE items');

    // Act
    const report = await buildReport(
      { client, store, log },
      {
        database: db.name,
        longQuerySeconds: 1,
        diff,
        redact: (t) => redactSecrets(t, db.target),
        results: {
          preflight: {
            step: 'preflight',
            ok: true,
            checks: [{ id: 'disk-space', status: 'pass', message: 'enough <room>' }],
          },
          backup: { step: 'backup', ok: true, key: backup.key, sizeBytes: backup.manifest.sizeBytes },
        },
      },
    );

    // Assess: sizes and counts are the server's
    const truth = await queryOneRow<{ total: string; main: string; idx: string; db: string }>(
      client,
      `SELECT pg_total_relation_size('items') AS total, pg_relation_size('items') AS main,
        pg_indexes_size('items') AS idx, pg_database_size(current_database()) AS db`,
    );
    const items = report.tables.find((t) => t.qualifiedName === 'public.items');
    expect(items).toMatchObject({
      totalBytes: Number(truth.total),
      tableBytes: Number(truth.main),
      indexBytes: Number(truth.idx),
      sizeEstimated: false,
      estimatedRows: 1900,
      exactRows: 1900,
    });
    expect(items!.toastBytes).toBeGreaterThanOrEqual(0);
    expect(items!.deadTuples).toBeGreaterThanOrEqual(0);
    expect(report.tables.find((t) => t.name === '<script>alert("x")</script>')).toMatchObject({
      exactRows: 7,
    });
    expect(report.server.databaseSizeBytes).toBeGreaterThan(0);
    expect(Math.abs(report.server.databaseSizeBytes - Number(truth.db))).toBeLessThan(1024 * 1024);
    expect(report.tables.map((t) => t.totalBytes)).toEqual(
      [...report.tables.map((t) => t.totalBytes)].sort((a, b) => b - a),
    );
    expect(report.server.maxConnections).toBeGreaterThan(0);
    expect(report.server.connections.total).toBeGreaterThanOrEqual(1);
    // history, alembic, backups
    expect(report.migrations.tracked).toBe(true);
    expect(report.migrations.applied).toEqual([
      expect.objectContaining({ version: '1', name: 'create items' }),
    ]);
    expect(report.migrations.history).toEqual([
      expect.objectContaining({ event: 'up', executionId: 'exec-1' }),
    ]);
    expect(report.migrations.alembic).toEqual({
      table: '"public"."alembic_version"',
      versions: ['ae1027a6acf'],
    });
    expect(report.backups).toEqual([expect.objectContaining({ key: backup.key, reason: 'test' })]);
    // run summary folded in
    expect(report.run.steps).toEqual([
      { name: 'preflight', ok: true },
      { name: 'backup', ok: true },
    ]);

    // Assess: the HTML is self-contained and has the chart and the tables
    const html = renderReportHtml(report);
    const doc = parse(html);
    expect(doc.querySelectorAll('script')).toHaveLength(0);
    expect(doc.querySelectorAll('link')).toHaveLength(0);
    expect(html).not.toMatch(/(src|href)=/);
    const bars = doc.querySelectorAll('#table-size-chart rect');
    expect(bars.length).toBe(Math.min(report.tables.length, 20));
    expect(Number(bars[0]?.getAttribute('data-bytes'))).toBe(report.tables[0]?.totalBytes);
    const rows = doc.querySelectorAll('#tables tbody tr');
    expect(rows).toHaveLength(report.tables.length);
    const itemsRow = rows.find((r) => r.querySelector('td')?.text === 'public.items');
    expect(itemsRow?.querySelectorAll('td')[6]?.text).toBe('1900');
    expect(doc.querySelector('#tables')?.text).toContain('public."<script>alert(""x"")</script>"');
    expect(doc.querySelectorAll('#preflight-checklist li')[0]?.text).toContain('enough <room>');
    expect(doc.querySelectorAll('#schema-diff tbody tr')).toHaveLength(1);
    expect(doc.querySelector('#alembic')?.text).toContain('ae1027a6acf');
    expect(doc.querySelectorAll('#backups tbody tr')).toHaveLength(1);

    // Act: written to S3 with a pre-signed URL
    const out = await writeReport(store, report);
    // Assess
    expect(out.written.html).toMatch(new RegExp(`^reports/${db.name}/\\d{8}_\\d{6}/report\\.html$`));
    expect(await getText(store, out.written.html)).toBe(html);
    expect(JSON.parse(await getText(store, out.written.json))).toEqual(JSON.parse(JSON.stringify(report)));
    expect(await getText(store, out.written.markdown)).toContain('| public.items |');
    expect(out.htmlUrl).toContain('X-Amz-Signature=');
    const fetched = await fetch(out.htmlUrl!);
    expect(fetched.status).toBe(200);
    expect(await fetched.text()).toBe(html);
  });

  test('a table locked ACCESS EXCLUSIVE by a migration: the report does not wait, lists the lock and the long transaction (password redacted)', async () => {
    // Prepare: another session holds the lock in an open transaction whose text carries the password
    const other = await db.client();
    await other.query('BEGIN');
    await other.query(`LOCK TABLE items IN ACCESS EXCLUSIVE MODE`);
    await other.query(`SELECT 1 /* ${db.target.password} */`);
    await new Promise((r) => setTimeout(r, 1100));
    const log = captureLogger();
    try {
      // Act
      const report = await buildReport(
        { client, log },
        { database: db.name, longQuerySeconds: 1, redact: (t) => redactSecrets(t, db.target) },
      );
      // Assess
      expect(report.locks).toContainEqual(
        expect.objectContaining({ relation: 'items', mode: 'AccessExclusiveLock', granted: true }),
      );
      expect(report.tables.find((t) => t.qualifiedName === 'public.items')).toMatchObject({
        sizeEstimated: true,
        exactRows: null,
      });
      expect(report.tables.find((t) => t.qualifiedName === 'public.items')!.tableBytes).toBeGreaterThan(0);
      await expect(snapshotSchema(client, { includeStats: true })).rejects.toMatchObject({
        name: 'LockTimeoutError',
      });
      const long = report.longRunningQueries.find((q) => q.query.includes('SELECT 1'));
      expect(long).toMatchObject({ state: 'idle in transaction' });
      expect(long!.query).toContain('********');
      expect(JSON.stringify(report)).not.toContain(db.target.password);
      expect(renderReportHtml(report)).not.toContain(db.target.password);
      expect(log.text()).not.toContain(db.target.password);
    } finally {
      await other.query('ROLLBACK');
    }
  });
});

describe('report on relations it cannot read (real PostgreSQL)', () => {
  let db: TestDatabase;
  const role = `rp_reader_${Date.now().toString(36)}`;
  beforeAll(async () => {
    db = await freshDatabase('rpm');
  });
  afterAll(async () => {
    await db.drop();
    await withClient(rigTarget(), (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
  });

  test('an unpopulated materialized view and a table without SELECT: sizes from the catalog, no exact count, no error', async () => {
    // Prepare: a view refreshed by a job (WITH NO DATA), a populated one, and a table the reader may not read.
    const owner = await db.client();
    await seedRows(db.target, 300, { table: 'events' });
    await owner.query(`CREATE MATERIALIZED VIEW daily_events AS SELECT id, body FROM events WITH NO DATA;
      CREATE MATERIALIZED VIEW event_count AS SELECT count(*) AS n FROM events;
      CREATE TABLE secrets (id bigint PRIMARY KEY, token text);
      INSERT INTO secrets SELECT g, md5(g::text) FROM generate_series(1, 5) g;
      ANALYZE`);
    await owner.query(`CREATE ROLE ${role} LOGIN PASSWORD 'reader-pw';
      GRANT USAGE ON SCHEMA public TO ${role};
      GRANT SELECT ON events, daily_events, event_count TO ${role}`);
    const reader = await connect({ ...db.target, user: role, password: 'reader-pw' }, 'pgshift-test');
    try {
      // Act
      const asOwner = await buildReport({ client: owner, log: captureLogger() }, { database: db.name });
      const asReader = await buildReport({ client: reader, log: captureLogger() }, { database: db.name });
      // Assess
      const table = (r: typeof asOwner, name: string) => r.tables.find((t) => t.name === name);
      for (const r of [asOwner, asReader]) {
        expect(table(r, 'daily_events')).toMatchObject({ kind: 'materialized view', exactRows: null });
        expect(table(r, 'event_count')).toMatchObject({ kind: 'materialized view', exactRows: 1 });
        expect(table(r, 'events')).toMatchObject({ exactRows: 300 });
      }
      expect(table(asOwner, 'secrets')).toMatchObject({ exactRows: 5 });
      expect(table(asReader, 'secrets')).toMatchObject({ exactRows: null, estimatedRows: 5 });
      expect(table(asReader, 'secrets')!.totalBytes).toBeGreaterThan(0);
      expect(renderReportMarkdown(asReader)).toContain('daily_events');
    } finally {
      await reader.end();
    }
  });
});
