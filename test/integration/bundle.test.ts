/**
 * Migration bundles against the rig's S3 stand-in and PostgreSQL: a folder packed and uploaded (SSE-KMS) is
 * read back and applied with its hash in pgshift.history; a tampered or unknown bundle is refused before any
 * database is touched; an install whose history table predates the column keeps its rows.
 */
import { cp, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import {
  applyMigrations,
  loadBundle,
  loadMigrations,
  packMigrations,
  uploadBundle,
} from '../../lambdas/migrate';
import {
  ensureHistoryTables,
  HISTORY_TABLE,
  readHistory,
  setBundleForSession,
} from '../../lambdas/shared/history';
import { encryptionParams } from '../../lambdas/shared/s3';
import { mockClient } from 'aws-sdk-client-mock';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { main } from '../../bin/cli/main';
import { freshDatabase, rigInfo, rigStore } from '../rig/helpers';
import { present } from '../helpers/present';
import { z } from 'zod';

const EXAMPLES = join(__dirname, '../../examples/migrations');
const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:bundle-test';

async function folderWith(extra: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-bundle-src-'));
  await cp(EXAMPLES, dir, { recursive: true });
  for (const [name, sql] of Object.entries(extra)) await writeFile(join(dir, name), sql);
  return dir;
}

describe('migration bundles', () => {
  test('the same folder packs to the same content-addressed key; a changed file to another', async () => {
    const a = await packMigrations(EXAMPLES);
    const b = await packMigrations(EXAMPLES);
    expect(b.body).toBe(a.body);
    expect(a.bundle).toBe(`bundles/${a.sha256}.json`);
    expect(a.migrations.map((m) => m.version)).toEqual(
      (await loadMigrations(EXAMPLES)).map((m) => m.version),
    );
    const changed = await packMigrations(
      await folderWith({ '0007_add_note.up.sql': 'ALTER TABLE customers ADD COLUMN note text;\n' }),
    );
    expect(changed.sha256).not.toBe(a.sha256);
  });

  test('packing checks the folder like the migrate step: a syntax error is refused', async () => {
    const dir = await folderWith({ '0007_broken.up.sql': 'ALTER TABLE customers ADD COLUMN;\n' });
    await expect(packMigrations(dir)).rejects.toMatchObject({ name: 'MigrationFileError' });
  });

  test('an uploaded bundle is SSE-KMS, read back and applied; history records its sha256', async () => {
    // Prepare
    const store = rigStore();
    const sent: Record<string, unknown>[] = [];
    store.s3.middlewareStack.add(
      (next) => async (args) => {
        sent.push(args.input as Record<string, unknown>);
        return next(args);
      },
      { step: 'initialize' },
    );
    const packed = await packMigrations(EXAMPLES);
    const ref = await uploadBundle(store, packed);
    expect(sent[0]).toMatchObject({
      Key: ref.bundle,
      ServerSideEncryption: 'aws:kms',
      SSEKMSKeyId: store.kmsKeyId,
    });
    const db = await freshDatabase('bndl');
    // Act
    const loaded = await loadBundle(store, ref);
    const client = await db.client();
    await setBundleForSession(client, ref.sha256);
    const result = await applyMigrations(client, loaded.migrations, { executionId: EXEC });
    // Assess
    expect(loaded.migrations.map((m) => m.checksum)).toEqual(packed.migrations.map((m) => m.checksum));
    expect(result.applied).toHaveLength(packed.migrations.length);
    const history = await readHistory(client);
    expect(history.filter((h) => h.event === 'up' && h.status === 'succeeded')).toHaveLength(
      packed.migrations.length,
    );
    expect(new Set(history.map((h) => h.bundleSha256))).toEqual(new Set([ref.sha256]));
    await db.drop();
  });

  test('a tampered bundle is refused with MigrationBundleMismatchError naming both hashes', async () => {
    const store = rigStore();
    const packed = await packMigrations(EXAMPLES);
    const ref = await uploadBundle(store, packed);
    // Someone rewrites the object after review: one statement added.
    const doc = JSON.parse(packed.body) as { format: string; files: { name: string; sql: string }[] };
    present(doc.files[0], 'the first bundled file').sql += '\nDROP TABLE IF EXISTS customers;\n';
    await store.s3.send(
      new PutObjectCommand({
        Bucket: store.bucket,
        Key: ref.bundle,
        Body: JSON.stringify(doc),
        ...encryptionParams(store),
      }),
    );
    const refused = loadBundle(store, ref);
    await expect(refused).rejects.toMatchObject({
      name: 'MigrationBundleMismatchError',
      outcome: 'refused',
      details: { expected: ref.sha256 },
    });
    await expect(refused).rejects.toThrow(/was changed after it was packed. Nothing ran/);
    // Put the real bytes back for the other tests of this run.
    await uploadBundle(store, packed);
  });

  test('a key that names another hash, and a bundle that is not there, are refused', async () => {
    const store = rigStore();
    const sha = 'f'.repeat(64);
    await expect(
      loadBundle(store, { bundle: `bundles/${'e'.repeat(64)}.json`, sha256: sha }),
    ).rejects.toMatchObject({
      name: 'MigrationBundleMismatchError',
    });
    await expect(loadBundle(store, { bundle: `bundles/${sha}.json`, sha256: sha })).rejects.toMatchObject({
      name: 'MigrationBundleNotFoundError',
      outcome: 'bad-input',
    });
  });

  test('an install whose history predates the column: rows kept with NULL, new events get the hash', async () => {
    // Prepare: the history table as earlier versions created it, with one row.
    const db = await freshDatabase('bndlold');
    const client = await db.client();
    await client.query(`CREATE SCHEMA pgshift;
      CREATE TABLE pgshift.schema_migrations (version bigint PRIMARY KEY, name text NOT NULL,
        checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), duration_ms integer NOT NULL
        DEFAULT 0, applied_by text NOT NULL, direction text NOT NULL DEFAULT 'up');
      CREATE TABLE ${HISTORY_TABLE} (id bigserial PRIMARY KEY, event text NOT NULL, version bigint, name text,
        checksum text, status text NOT NULL, started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz,
        duration_ms integer, execution_id text NOT NULL, db_user text NOT NULL DEFAULT current_user, error text,
        details jsonb NOT NULL DEFAULT '{}'::jsonb);
      INSERT INTO ${HISTORY_TABLE} (event, status, execution_id) VALUES ('restore', 'succeeded', 'old-run');`);
    // Read before any upgrade: the report of an old install works and alters nothing.
    expect((await readHistory(client)).map((r) => r.bundleSha256)).toEqual([null]);
    // Act: a bundle run on the same session.
    await setBundleForSession(client, 'a'.repeat(64));
    await ensureHistoryTables(client);
    await client.query(
      `INSERT INTO ${HISTORY_TABLE} (event, status, execution_id) VALUES ('up', 'succeeded', 'new-run')`,
    );
    // Assess
    const rows = await readHistory(client);
    expect(rows.map((r) => [r.executionId, r.bundleSha256])).toEqual([
      ['new-run', 'a'.repeat(64)],
      ['old-run', null],
    ]);
    await db.drop();
  });

  test('pgshift start migrate --migrations DIR uploads the bundle (rig S3) and starts with it (Step Functions mocked)', async () => {
    // Prepare
    const sfn = mockClient(SFNClient);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:exec', startDate: new Date() });
    const rig = rigInfo();
    const out: string[] = [];
    const err: string[] = [];
    try {
      // Act
      const code = await main(
        [
          'start',
          'migrate',
          '--dry-run',
          '--migrations',
          EXAMPLES,
          '--state-machine-arn',
          'arn:sm',
          '--bucket',
          rig.s3.bucket,
          '--kms-key-id',
          rigStore().kmsKeyId as string,
          '--s3-endpoint',
          rig.s3.endpoint,
          '--json',
        ],
        { out: (t) => out.push(t), err: (t) => err.push(t), tty: false },
      );
      // Assess
      expect(err).toEqual([]);
      expect(code).toBe(0);
      const packed = await packMigrations(EXAMPLES);
      const input = JSON.parse(
        present(sfn.commandCalls(StartExecutionCommand)[0], 'a StartExecution call').args[0].input
          .input as string,
      );
      expect(input).toEqual({
        action: 'migrate',
        dryRun: true,
        migrations: { bundle: packed.bundle, sha256: packed.sha256 },
      });
      const loaded = await loadBundle(
        rigStore(),
        z.object({ migrations: z.object({ bundle: z.string(), sha256: z.string() }) }).parse(input)
          .migrations,
      );
      expect(loaded.migrations).toHaveLength(packed.migrations.length);
    } finally {
      sfn.restore();
    }
  });

  test('pgshift bundle refuses a malformed folder (exit 2) and uploads nothing', async () => {
    const dir = await folderWith({ '0007_broken.up.sql': 'ALTER TABLE customers ADD COLUMN;\n' });
    const err: string[] = [];
    const rig = rigInfo();
    const code = await main(
      ['bundle', dir, '--bucket', rig.s3.bucket, '--kms-key-id', 'k', '--s3-endpoint', rig.s3.endpoint],
      { out: () => undefined, err: (t) => err.push(t), tty: false },
    );
    expect(code).toBe(2);
    expect(err[0]).toMatch(/^pgshift: MigrationFileError: .*0007_broken.up.sql/);
  });
});
