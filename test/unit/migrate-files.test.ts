import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { checksumOf, loadMigrations } from '../../lambdas/migrate';
import { migrationFolder as folder } from '../helpers/migration-folder';
import { present } from '../helpers/present';

describe('loadMigrations', () => {
  test('reads golang-migrate up/down pairs in numeric order with checksums and directives', async () => {
    // Prepare
    const dir = await folder({
      '10_third.up.sql': 'CREATE TABLE c (id bigint);',
      '0002_second.up.sql':
        '-- pgshift:no-transaction\n-- pgshift:lock-timeout 2s\n-- pgshift:statement-timeout 30min\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON b (id);',
      '0002_second.down.sql': 'DROP INDEX IF EXISTS i;',
      '0001_first.up.sql':
        'CREATE TABLE a (id bigint);\n-- pgshift:allow ban-drop-table the table is unused since v2\nDROP TABLE old;',
      'README.md': 'not a migration',
    });
    // Act
    const ms = await loadMigrations(dir);
    // Assess
    expect(ms.map((m) => m.version)).toEqual(['1', '2', '10']);
    expect(ms[0]?.checksum).toBe(
      checksumOf(
        'CREATE TABLE a (id bigint);\n-- pgshift:allow ban-drop-table the table is unused since v2\nDROP TABLE old;',
      ),
    );
    expect(ms[0]?.up.allows).toEqual([
      { rule: 'ban-drop-table', reason: 'the table is unused since v2', line: 2, statementIndex: 1 },
    ]);
    expect(ms[1]).toMatchObject({
      name: 'second',
      up: { noTransaction: true, lockTimeout: '2s', statementTimeout: '30min' },
    });
    expect(ms[1]?.down?.sql).toContain('DROP INDEX');
    expect(present(ms[2], 'the third migration').down).toBeUndefined();
  });

  test('reads dbmate single files with -- migrate:up / -- migrate:down sections', async () => {
    const dir = await folder({
      '20240101120000_create_things.sql':
        '-- migrate:up\nCREATE TABLE things (id bigint);\n\n-- migrate:down\nDROP TABLE things;\n',
      '20240102120000_index_things.sql':
        '-- migrate:up transaction:false\nCREATE INDEX CONCURRENTLY IF NOT EXISTS i ON things (id);\n-- migrate:down\nDROP INDEX i;\n',
    });
    const ms = await loadMigrations(dir);
    expect(ms[0]).toMatchObject({ version: '20240101120000', name: 'create_things' });
    expect(ms[0]?.up.sql).toContain('CREATE TABLE things');
    expect(ms[0]?.up.sql).not.toContain('DROP TABLE');
    expect(ms[0]?.down).toMatchObject({ firstLine: 4 });
    expect(ms[1]?.up.noTransaction).toBe(true);
  });

  test.each([
    [
      'duplicate versions',
      { '1_a.up.sql': 'SELECT 1;', '001_b.up.sql': 'SELECT 2;' },
      /version 1 is defined more than once/,
    ],
    [
      'a down without an up',
      { '1_a.up.sql': 'SELECT 1;', '2_b.down.sql': 'SELECT 2;' },
      /2_b.down.sql: a down migration without its up/,
    ],
    ['a malformed name', { 'create_things.sql': 'SELECT 1;' }, /create_things.sql: name does not follow/],
    [
      'a SQL syntax error (with line and column)',
      { '1_a.up.sql': 'SELECT 1;\nCREATE TABLEE x ();' },
      /1_a.up.sql:2:\d+: SQL syntax error/,
    ],
    [
      'an allow without a reason',
      { '1_a.up.sql': '-- pgshift:allow ban-drop-table\nDROP TABLE x;' },
      /needs a rule id and a reason/,
    ],
    [
      'an unknown directive',
      { '1_a.up.sql': '-- pgshift:no-transactions\nSELECT 1;' },
      /unknown directive pgshift:no-transactions/,
    ],
    ['a bad timeout', { '1_a.up.sql': '-- pgshift:lock-timeout soon\nSELECT 1;' }, /needs a duration/],
    ['a dbmate file without -- migrate:up', { '1_a.sql': 'SELECT 1;' }, /no "-- migrate:up" section/],
  ])('rejects %s with a MigrationFileError', async (_label, files, message) => {
    const dir = await folder(files);
    await expect(loadMigrations(dir)).rejects.toMatchObject({
      name: 'MigrationFileError',
      message: expect.stringMatching(message),
    });
  });

  test('lists every problem of the folder in one error', async () => {
    const dir = await folder({
      '1_a.up.sql': 'SELECT 1;',
      '1_b.up.sql': 'SELECT 1;',
      '3_c.down.sql': 'SELECT 1;',
    });
    const err = await loadMigrations(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({
      name: 'MigrationFileError',
      details: {
        problems: expect.arrayContaining([
          expect.stringMatching(/version 1/),
          expect.stringMatching(/3_c.down.sql/),
        ]),
      },
    });
  });

  test('rejects an unreadable file and a missing folder', async () => {
    const dir = await folder({ '1_a.up.sql': 'SELECT 1;' });
    await chmod(join(dir, '1_a.up.sql'), 0o000);
    const unreadable = process.getuid?.() === 0 ? undefined : /unreadable/;
    if (unreadable)
      await expect(loadMigrations(dir)).rejects.toMatchObject({
        name: 'MigrationFileError',
        message: expect.stringMatching(unreadable),
      });
    await expect(loadMigrations(join(dir, 'nope'))).rejects.toMatchObject({
      name: 'MigrationFileError',
      message: expect.stringMatching(/Cannot read migrations folder/),
    });
  });
});

describe('transaction mode decided from the parsed statements', () => {
  test('a file whose statements all must run outside a transaction is no-transaction without a directive', async () => {
    // Prepare
    const dir = await folder({
      '1_idx.up.sql': 'CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (a);\n',
      '1_idx.down.sql': 'DROP INDEX CONCURRENTLY IF EXISTS i;\n',
      '2_vacuum.up.sql': '-- reclaim space\nVACUUM (ANALYZE) t;\nREINDEX INDEX CONCURRENTLY i;\n',
      '3_system.up.sql': "ALTER SYSTEM SET work_mem = '8MB';\n",
      '4_plain.up.sql': 'CREATE TABLE t2 (id bigint);\nANALYZE t2;\n',
    });
    // Act
    const [idx, vacuum, system, plain] = await loadMigrations(dir);
    // Assess
    expect(idx?.up).toMatchObject({
      noTransaction: true,
      noTransactionReason: 'every statement must run outside a transaction (CREATE INDEX CONCURRENTLY)',
    });
    expect(idx?.down).toMatchObject({ noTransaction: true });
    expect(vacuum?.up.noTransactionReason).toMatch(/VACUUM, REINDEX CONCURRENTLY/);
    expect(system?.up.noTransaction).toBe(true);
    expect(plain?.up).toMatchObject({ noTransaction: false });
    expect(present(plain, '4_plain').up.noTransactionReason).toBeUndefined();
  });

  test('a file mixing them with other statements is refused, naming file, line and statement; a directive allows it', async () => {
    // Prepare
    const mixed = await folder({
      '1_mixed.up.sql': 'CREATE TABLE t (a int);\n\nCREATE INDEX CONCURRENTLY t_a ON t (a);\n',
    });
    const directed = await folder({
      '1_mixed.up.sql':
        '-- pgshift:no-transaction\nCREATE TABLE IF NOT EXISTS t (a int);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_a ON t (a);\n',
      '2_morph.up.sql':
        '-- morph:nontransactional\nDROP INDEX CONCURRENTLY IF EXISTS old_a;\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_b ON t (a);\nALTER TABLE t ADD COLUMN IF NOT EXISTS b int;\n',
      '20240101120000_dbmate.sql':
        '-- migrate:up transaction:false\nCREATE TABLE IF NOT EXISTS u (a int);\nCREATE INDEX CONCURRENTLY IF NOT EXISTS u_a ON u (a);\n-- migrate:down\nDROP TABLE u;\n',
    });
    // Act
    const err = await loadMigrations(mixed).catch((e: unknown) => e);
    const ok = await loadMigrations(directed);
    // Assess
    expect(err).toMatchObject({ name: 'MigrationFileError' });
    expect((err as Error).message).toMatch(
      /1_mixed\.up\.sql:3: CREATE INDEX CONCURRENTLY t_a ON t \(a\) cannot run inside a transaction .*line 1/,
    );
    expect((err as Error).message).toContain('-- pgshift:no-transaction');
    expect(ok.map((m) => [m.version, m.up.noTransaction, m.up.noTransactionReason])).toEqual([
      ['1', true, 'directive -- pgshift:no-transaction'],
      ['2', true, 'directive -- morph:nontransactional'],
      ['20240101120000', true, 'dbmate -- migrate:up transaction:false'],
    ]);
    expect(ok[2]?.down?.noTransaction).toBe(false);
  });

  test('empty and comment-only files are accepted as no-ops', async () => {
    const dir = await folder({
      '1_empty.up.sql': '',
      '1_empty.down.sql': '\n\n',
      '2_comments.up.sql': '-- nothing to do on PostgreSQL\n/* kept for numbering */\n',
      '20240101120000_dbmate_empty.sql': '-- migrate:up\n-- migrate:down\n',
    });
    const ms = await loadMigrations(dir);
    expect(ms.map((m) => m.version)).toEqual(['1', '2', '20240101120000']);
    for (const m of ms) expect(m.up).toMatchObject({ noTransaction: false, empty: true });
  });
});
