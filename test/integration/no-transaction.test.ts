/**
 * Files that cannot run in a transaction, decided at plan time from the parsed statements: a lone
 * `CREATE INDEX CONCURRENTLY` (golang-migrate's usual form) runs outside one without a directive, morph's and
 * dbmate's directives are honoured, and empty or comment-only files are no-ops.
 */
import type { Client } from 'pg';
import { applyMigrations, downgradeMigrations, dryRun, loadMigrations } from '../../lambdas/migrate';
import { readAppliedMigrations } from '../../lambdas/shared/history';
import { freshDatabase, seedRows, type TestDatabase } from '../rig/helpers';
import { migrationFolder as folder } from '../helpers/migration-folder';

const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:no-transaction-test';

async function validIndexes(client: Client): Promise<string[]> {
  const res = await client.query<{ relname: string }>(
    `SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indisvalid AND c.relname LIKE 'items\\_%' ORDER BY 1`,
  );
  return res.rows.map((r) => r.relname);
}

describe('no-transaction files (real PostgreSQL)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('ntx');
    client = await db.client();
    await seedRows(db.target, 500);
  });
  afterEach(async () => db.drop());

  test('a single CREATE INDEX CONCURRENTLY without a directive: the plan says so, lint passes, apply builds it', async () => {
    // Prepare
    const migrations = await loadMigrations(
      await folder({
        '000001_items_body_idx.up.sql':
          'CREATE INDEX CONCURRENTLY IF NOT EXISTS items_body_idx ON items (body);\n',
        '000001_items_body_idx.down.sql': 'DROP INDEX CONCURRENTLY IF EXISTS items_body_idx;\n',
        '000002_items_doc_idx.up.sql':
          '-- morph:nontransactional\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_doc_idx ON items ((doc->>1));\nCREATE INDEX CONCURRENTLY IF NOT EXISTS items_tag_idx ON items ((doc->>2));\n',
        '000002_items_doc_idx.down.sql':
          '-- morph:nontransactional\nDROP INDEX CONCURRENTLY IF EXISTS items_tag_idx;\nDROP INDEX CONCURRENTLY IF EXISTS items_doc_idx;\n',
      }),
    );
    // Act
    const plan = await dryRun(client, migrations);
    const result = await applyMigrations(client, migrations, { executionId: EXEC });
    // Assess
    expect(plan.sql).toContain(
      '[no-transaction: every statement must run outside a transaction (CREATE INDEX CONCURRENTLY)]',
    );
    expect(plan.sql).toContain('[no-transaction: directive -- morph:nontransactional]');
    expect(plan.sql).not.toMatch(
      /BEGIN;\nSET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '15min';\nCREATE INDEX CONCURRENTLY/,
    );
    expect(plan.lint.errors).toBe(0);
    expect(plan.lint.findings.map((f) => f.rule)).not.toContain(
      'ban-concurrent-index-creation-in-transaction',
    );
    expect(result.applied.map((a) => a.version)).toEqual(['1', '2']);
    expect(await validIndexes(client)).toEqual([
      'items_body_idx',
      'items_doc_idx',
      'items_pkey',
      'items_tag_idx',
    ]);
    // The down file is decided the same way.
    const down = await downgradeMigrations(client, migrations, { executionId: EXEC, toVersion: '0' });
    expect(down.reverted.map((r) => r.version)).toEqual(['2', '1']);
    expect(await validIndexes(client)).not.toContain('items_body_idx');
  });

  test('empty and comment-only files apply as recorded no-ops, and revert as such', async () => {
    // Prepare
    const migrations = await loadMigrations(
      await folder({
        '1_empty.up.sql': '',
        '1_empty.down.sql': '',
        '2_comment_only.up.sql': '-- this version was MySQL-only\n',
        '2_comment_only.down.sql': '/* nothing to undo */\n',
        '3_real.up.sql': 'CREATE TABLE after_empty (id bigint);\n',
        '3_real.down.sql': 'DROP TABLE after_empty;\n',
      }),
    );
    // Act
    const plan = await dryRun(client, migrations);
    const result = await applyMigrations(client, migrations, { executionId: EXEC });
    // Assess
    expect(plan.sql).toContain('[empty: no statements]');
    expect(result.applied.map((a) => a.version)).toEqual(['1', '2', '3']);
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(['1', '2', '3']);
    const down = await downgradeMigrations(client, migrations, { executionId: EXEC, toVersion: '0' });
    expect(down.reverted.map((r) => r.version)).toEqual(['3', '2', '1']);
    expect(await readAppliedMigrations(client)).toEqual([]);
  });
});
