/**
 * Every action ends in "Write report": a report that cannot be written must never turn work that succeeded
 * (a backup, applied migrations, a restore) into a failed execution. It is a warning, in the output and the
 * success alert; only `action: report` itself fails on it.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { freshDatabase, readAlerts, seedRows, tableChecksum, type TestDatabase } from '../rig/helpers';
import { runWorkflow, synthesizedWorkflow } from './harness';

async function migrationsDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-wfr-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

async function appliedVersions(db: TestDatabase): Promise<string[]> {
  const c = await db.client();
  const tracked = await c.query<{ t: boolean }>(
    "SELECT to_regclass('pgshift.schema_migrations') IS NOT NULL AS t",
  );
  if (!tracked.rows[0]?.t) return [];
  const res = await c.query<{ v: string }>(
    'SELECT m.version::text AS v FROM pgshift.schema_migrations m ORDER BY m.version',
  );
  return res.rows.map((r) => r.v);
}

describe('the report step never fails work that succeeded', () => {
  beforeAll(() => {
    synthesizedWorkflow();
  }, 120_000);

  test('a database with an unpopulated materialized view: backup, migrate and restore succeed, each with a report', async () => {
    // Prepare: a view refreshed by a job, created WITH NO DATA.
    const db = await freshDatabase('wmv');
    await seedRows(db.target, 200, { table: 'events' });
    const c = await db.client();
    await c.query('CREATE MATERIALIZED VIEW daily_events AS SELECT id, body FROM events WITH NO DATA');
    const dir = await migrationsDir({
      '1_add_note.up.sql': 'ALTER TABLE events ADD COLUMN note text;\n',
      '1_add_note.down.sql': 'ALTER TABLE events DROP COLUMN note;\n',
    });
    const opts = { databaseUrl: db.url, database: db.name, migrationsDir: dir };
    try {
      // Act
      const backup = await runWorkflow({ action: 'backup' }, opts);
      const before = await tableChecksum(db.target, 'events');
      const migrate = await runWorkflow({ action: 'migrate' }, opts);
      const migrated = await appliedVersions(db);
      // latest = the backup migrate took before applying: the restore brings back the unmigrated database.
      const restore = await runWorkflow({ action: 'restore', backup: 'latest', confirm: db.name }, opts);
      // Assess
      for (const run of [backup, migrate, restore]) {
        expect(run.error).toBeUndefined();
        expect(run.ok).toBe(true);
        expect(run.state!.results.report).toMatchObject({
          ok: true,
          written: expect.objectContaining({ html: expect.stringMatching(/report\.html$/) }),
        });
      }
      expect(migrated).toEqual(['1']);
      expect(await appliedVersions(db)).toEqual([]);
      expect(await tableChecksum(db.target, 'events')).toEqual(before);
      const after = await db.client();
      const mv = await after.query<{ relispopulated: boolean }>(
        "SELECT relispopulated FROM pg_class WHERE relname = 'daily_events'",
      );
      expect(mv.rows).toEqual([{ relispopulated: false }]);
    } finally {
      await runWorkflow({ action: 'cleanup', confirm: db.name }, opts);
      await db.drop();
    }
  }, 300_000);

  test('a report failure after migrations were applied: the run succeeds and output and alert say why', async () => {
    // Prepare: the migration (by mistake) renames a column of pgshift's history, which the report reads.
    const db = await freshDatabase('wrw');
    const dir = await migrationsDir({
      '1_create_t.up.sql': 'CREATE TABLE t (id bigint);\n',
      '2_rename_history_column.up.sql': 'ALTER TABLE pgshift.history RENAME COLUMN db_user TO db_user_old;\n',
    });
    try {
      // Act
      const run = await runWorkflow(
        { action: 'migrate' },
        { databaseUrl: db.url, database: db.name, migrationsDir: dir },
      );
      // Assess
      expect(run.error).toBeUndefined();
      expect(run.ok).toBe(true);
      expect(await appliedVersions(db)).toEqual(['1', '2']);
      expect(run.state!.results.report).toMatchObject({
        ok: false,
        warning: expect.stringMatching(/report could not be written/),
        error: { Error: 'ReportFailedError', Cause: expect.stringContaining('db_user') },
      });
      const [alert] = await readAlerts((a) => a.Subject === `pgshift migrate succeeded on ${db.name}`, {
        waitSeconds: 5,
      });
      if (!alert) throw new Error('no success alert');
      expect(alert.Message).toMatch(/report could not be written/i);
      expect(alert.Message).toContain('db_user');
      expect(run.visited.map((v) => v.state)).toEqual(
        expect.arrayContaining(['Write report', 'Report failed: warn', 'Notify success', 'Done']),
      );
      // The report action itself fails on it: there the report is the work.
      const only = await runWorkflow(
        { action: 'report' },
        { databaseUrl: db.url, database: db.name, migrationsDir: dir },
      );
      expect(only.ok).toBe(false);
      expect(only.error?.name).toBe('ReportFailedError');
      expect(only.error?.message).toContain(db.name);
    } finally {
      await db.drop();
    }
  }, 300_000);
});
