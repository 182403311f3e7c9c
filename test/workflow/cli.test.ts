/**
 * The CLI as a user runs it: the `bin/pgshift` executable spawned against the rig, each local action end to
 * end, and bad input giving the documented exit code and a one-line message (never a stack trace).
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { EXAMPLES, localFlags, pgshift, rigFlags, runCommand, type Ran } from '../helpers/cli';
import { freshDatabase, rigInfo, seedRows, tableChecksum, type TestDatabase } from '../rig/helpers';
import { z } from 'zod';

/** What `--json` prints, as far as these tests read it. */
const writtenSchema = z.object({ written: z.record(z.string(), z.string()) });
const listingSchema = z.object({ backups: z.array(z.object({ key: z.string() })) });

function expectOneLineError(ran: Ran, pattern: RegExp): void {
  expect(ran.stderr).toMatch(pattern);
  expect(ran.stderr).not.toMatch(/\n\s+at /);
}

describe('pgshift CLI (spawned)', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await freshDatabase('cli');
    await seedRows(db.target, 300);
  });
  afterAll(async () => db.drop());

  test('help and version exit 0', async () => {
    const help = await pgshift(['help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('pgshift local <action>');
    expect((await pgshift(['--version'])).stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  }, 60_000);

  test('usage mistakes exit 2 with one clear line', async () => {
    const unknownFlag = await pgshift(['local', 'migrate', '--dryrun']);
    expect(unknownFlag.code).toBe(2);
    expectOneLineError(unknownFlag, /Unknown option '--dryrun'/);
    const unknownCommand = await pgshift(['explode']);
    expect(unknownCommand.code).toBe(2);
    expectOneLineError(unknownCommand, /unknown command "explode"/);
    const noDatabase = await pgshift(['local', 'backup'], { DATABASE_URL: '', PGSHIFT_BUCKET: 'b' });
    expect(noDatabase.code).toBe(2);
    expectOneLineError(noDatabase, /no database: pass --database-url or set DATABASE_URL/);
  }, 60_000);

  test('a missing bucket is a one-line error (exit 2) before anything runs', async () => {
    const info = rigInfo();
    const ran = await pgshift([
      'local',
      'backup',
      '--database-url',
      db.url,
      '--bucket',
      'no-such-bucket',
      '--s3-endpoint',
      info.s3.endpoint,
    ]);
    expect(ran.code).toBe(2);
    expectOneLineError(ran, /bucket "no-such-bucket" does not exist/);
  }, 60_000);

  test('an unreachable database fails (exit 1) with a clear message and says nothing changed', async () => {
    const info = rigInfo();
    const ran = await pgshift([
      'local',
      'backup',
      '--database-url',
      `postgres://nobody:secret-pw@localhost:1/none?sslmode=verify-full&sslrootcert=${encodeURIComponent(info.pg.caFile ?? '')}`,
      '--bucket',
      info.s3.bucket,
      '--s3-endpoint',
      info.s3.endpoint,
    ]);
    expect(ran.code).toBe(1);
    expect(ran.stdout).toContain('DatabaseConnectionError');
    expect(ran.stdout + ran.stderr).not.toContain('secret-pw');
    expect(ran.stderr).not.toMatch(/\n\s+at /);
  }, 90_000);

  test('backup --json prints one document with the keys written; backups lists it', async () => {
    const ran = await pgshift(['local', 'backup', '--json', ...localFlags(db)]);
    expect(ran.stderr).not.toMatch(/\n\s+at /);
    expect(ran.code).toBe(0);
    const doc = JSON.parse(ran.stdout) as {
      action: string;
      ok: boolean;
      database: string;
      written: Record<string, string>;
    };
    expect(doc).toMatchObject({ action: 'backup', ok: true, database: db.name });
    expect(doc.written['backup.dump']).toMatch(
      new RegExp(`^backups/${db.name}/\\d{4}/\\d{2}/\\d{2}/pg_backup_\\d{8}_\\d{6}\\.dump$`),
    );
    expect(doc.written['backup.manifest']).toBe(`${doc.written['backup.dump']}.manifest.json`);
    const listed = await pgshift(['backups', '--json', ...rigFlags(db)]);
    expect(listingSchema.parse(JSON.parse(listed.stdout)).backups[0]?.key).toBe(doc.written['backup.dump']);
  }, 120_000);

  test('migrate --dry-run, migrate, verify, downgrade, report: each end to end', async () => {
    const dry = await pgshift(['local', 'migrate', '--dry-run', '--json', ...localFlags(db)]);
    expect(dry.code).toBe(0);
    expect(writtenSchema.parse(JSON.parse(dry.stdout)).written['plan.sql']).toBeDefined();
    const migrate = await pgshift(['local', 'migrate', ...localFlags(db)]);
    expect(migrate.stderr).not.toMatch(/\n\s+at /);
    expect(migrate.code).toBe(0);
    expect(migrate.stdout).toContain(`pgshift migrate on ${db.name}: ok`);
    expect(migrate.stderr).toContain('✓ Apply migrations');
    expect(migrate.stderr).toContain('applying migration 6 of 6: 6_validate_order_status');
    const verify = await pgshift(['local', 'verify', '--json', ...localFlags(db)]);
    expect(verify.code).toBe(0);
    expect(z.object({ ok: z.boolean() }).parse(JSON.parse(verify.stdout)).ok).toBe(true);
    const down = await pgshift(['local', 'downgrade', '--steps', '1', '--json', ...localFlags(db)]);
    expect(down.code).toBe(0);
    const report = await pgshift(['local', 'report', '--json', ...localFlags(db)]);
    expect(report.code).toBe(0);
    expect(writtenSchema.parse(JSON.parse(report.stdout)).written['report.html']).toMatch(/report\.html$/);
  }, 300_000);

  test('restore without --confirm is refused (exit 3) and changes nothing; with it, the data comes back', async () => {
    const before = await tableChecksum(db.target, 'items');
    const refused = await pgshift(['local', 'restore', 'latest', ...localFlags(db)]);
    expect(refused.code).toBe(3);
    expect(refused.stdout).toContain('RestoreRefusedError');
    expect(await tableChecksum(db.target, 'items')).toEqual(before);
    const restored = await pgshift([
      'local',
      'restore',
      'latest',
      '--confirm',
      db.name,
      '--json',
      ...localFlags(db),
    ]);
    expect(restored.code).toBe(0);
    expect(await tableChecksum(db.target, 'items')).toEqual(before);
    const cleanup = await pgshift(['local', 'cleanup', '--confirm', db.name, ...localFlags(db)]);
    expect(cleanup.code).toBe(0);
  }, 300_000);

  test('lint and diff need no database', async () => {
    const lint = await pgshift(['lint', EXAMPLES]);
    expect(lint.code).toBe(0);
    expect(lint.stdout).toMatch(/6 migration\(s\): 0 error\(s\), 1 warning\(s\)/);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'pgshift-cli-'));
    await writeFile(path.join(dir, '0001_drop.up.sql'), 'DROP TABLE items;\n');
    const unsafe = await pgshift(['lint', dir]);
    expect(unsafe.code).toBe(3);
    const missing = await pgshift(['diff', path.join(dir, 'a.json'), path.join(dir, 'b.json')]);
    expect(missing.code).toBe(2);
    expectOneLineError(missing, /cannot read .*a\.json: ENOENT/);
  }, 60_000);

  test('npm start runs the whole demo and leaves a report', async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'pgshift-demo-'));
    const ran = await runCommand('npm', ['start', '--silent'], { ...process.env, PGSHIFT_DEMO_DIR: out });
    expect(ran.stderr).not.toMatch(/\n\s+at /);
    expect(ran.code).toBe(0);
    expect(ran.stdout).toContain('Open the report in a browser');
    const html = await readFile(path.join(out, 'report.html'), 'utf8');
    expect(html).toContain('<svg');
  }, 240_000);
});
