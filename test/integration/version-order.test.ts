/**
 * Versions are numbers, not text: histories whose versions have different digit counts (1, 2, 9, 10, 11),
 * long golang-migrate histories (158 versions) and 14-digit timestamps (dbmate) keep numeric order in the
 * applied list, in verify, and in every downgrade.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import {
  applyMigrations,
  downgradeMigrations,
  loadMigrations,
  planMigrations,
  verifyMigrations,
} from '../../lambdas/migrate';
import { MIGRATIONS_TABLE, readAppliedMigrations } from '../../lambdas/shared/history';
import { freshDatabase, type TestDatabase } from '../rig/helpers';

const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:version-order-test';

/** A golang-migrate folder: one table per version, each with its down file. */
async function folderOf(versions: string[], pad = 0): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-order-'));
  for (const v of versions) {
    const base = `${v.padStart(pad, '0')}_t${v}`;
    await writeFile(join(dir, `${base}.up.sql`), `CREATE TABLE t${v} (id bigint);\n`);
    await writeFile(join(dir, `${base}.down.sql`), `DROP TABLE t${v};\n`);
  }
  return dir;
}

async function tablesLeft(client: Client): Promise<string[]> {
  const res = await client.query<{ relname: string }>(
    "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '^t[0-9]+$' ORDER BY substr(relname, 2)::numeric",
  );
  return res.rows.map((r) => r.relname.slice(1));
}

describe('version order (real PostgreSQL)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('ord');
    client = await db.client();
  });
  afterEach(async () => db.drop());

  test('with 1, 2, 9, 10, 11 applied, downgrade --steps 1 reverts the newest each time, down to none', async () => {
    // Prepare
    const versions = ['1', '2', '9', '10', '11'];
    const migrations = await loadMigrations(await folderOf(versions));
    await applyMigrations(client, migrations, { executionId: EXEC });
    // Assess: the applied list is in numeric order
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(versions);
    expect((await verifyMigrations(client, migrations)).latestVersion).toBe('11');
    // Act + Assess: one step at a time, always the highest version still applied
    const reverted: string[] = [];
    for (let i = versions.length - 1; i >= 0; i--) {
      const dry = await downgradeMigrations(client, migrations, {
        executionId: EXEC,
        steps: 1,
        dryRun: true,
      });
      expect(dry.reverted.map((r) => r.version)).toEqual([versions[i]]);
      const down = await downgradeMigrations(client, migrations, { executionId: EXEC, steps: 1 });
      reverted.push(...down.reverted.map((r) => r.version));
      expect(await tablesLeft(client)).toEqual(versions.slice(0, i));
    }
    expect(reverted).toEqual(['11', '10', '9', '2', '1']);
    // Re-applying has nothing out of order
    const plan = await planMigrations(client, migrations);
    expect(plan.outOfOrder).toEqual([]);
    expect(plan.pending.map((m) => m.version)).toEqual(versions);
  });

  test('a 158-version golang-migrate history: --steps 1 reverts 159, a full downgrade goes newest to oldest', async () => {
    // Prepare: versions 2..159, zero-padded to six digits as golang-migrate's -seq -digits 6 writes them.
    const versions = Array.from({ length: 158 }, (_, i) => String(i + 2));
    const migrations = await loadMigrations(await folderOf(versions, 6));
    await applyMigrations(client, migrations, { executionId: EXEC });
    // Act
    const one = await downgradeMigrations(client, migrations, { executionId: EXEC, steps: 1 });
    // Assess
    expect(one.reverted.map((r) => r.version)).toEqual(['159']);
    const toFifty = await downgradeMigrations(client, migrations, { executionId: EXEC, toVersion: '50' });
    expect(toFifty.reverted.map((r) => r.version)).toEqual(
      versions.filter((v) => Number(v) > 50 && Number(v) < 159).reverse(),
    );
    expect(await tablesLeft(client)).toEqual(versions.filter((v) => Number(v) <= 50));
    const rest = await downgradeMigrations(client, migrations, { executionId: EXEC, steps: 49 });
    expect(rest.reverted.map((r) => r.version)).toEqual(versions.filter((v) => Number(v) <= 50).reverse());
    expect(await tablesLeft(client)).toEqual([]);
    // And migrate runs again without an out-of-order refusal.
    await applyMigrations(client, migrations, { executionId: EXEC });
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(versions);
  });

  test('14-digit timestamps mixed with short versions keep numeric order in apply, verify and downgrade', async () => {
    // Prepare: a team that switched from sequence numbers to dbmate-style timestamps.
    const versions = ['3', '20', '20240101120000', '20240315093000', '99999999999999'];
    const migrations = await loadMigrations(await folderOf(versions));
    expect(migrations.map((m) => m.version)).toEqual(versions);
    await applyMigrations(client, migrations, { executionId: EXEC });
    // Assess
    expect((await readAppliedMigrations(client)).map((a) => a.version)).toEqual(versions);
    expect((await verifyMigrations(client, migrations)).latestVersion).toBe('99999999999999');
    const down = await downgradeMigrations(client, migrations, { executionId: EXEC, steps: 2 });
    expect(down.reverted.map((r) => r.version)).toEqual(['99999999999999', '20240315093000']);
    const toTwenty = await downgradeMigrations(client, migrations, { executionId: EXEC, toVersion: '20' });
    expect(toTwenty.reverted.map((r) => r.version)).toEqual(['20240101120000']);
    expect(await tablesLeft(client)).toEqual(['3', '20']);
  });

  test('verify lists failed attempts in numeric version order', async () => {
    // Prepare: 9 and 10 applied, then 11 and 100 fail (each alone, as two runs would).
    const good = await loadMigrations(await folderOf(['9', '10']));
    await applyMigrations(client, good, { executionId: EXEC });
    const dir = await folderOf(['9', '10']);
    await writeFile(join(dir, '100_bad.up.sql'), 'SELECT 1 / 0;\n');
    await writeFile(join(dir, '11_bad.up.sql'), 'SELECT 1 / 0;\n');
    const all = await loadMigrations(dir);
    const only = (v: string) => all.filter((m) => m.version !== v);
    await expect(applyMigrations(client, only('100'), { executionId: EXEC })).rejects.toMatchObject({
      name: 'MigrationFailedError',
    });
    // 11 failed; a folder without 11 lets 100 be attempted (and fail) too.
    await expect(applyMigrations(client, only('11'), { executionId: EXEC })).rejects.toMatchObject({
      name: 'MigrationFailedError',
    });
    // Act
    const status = await verifyMigrations(client, all);
    // Assess
    expect(status.failed.map((f) => f.version)).toEqual(['11', '100']);
    const rows = await client.query<{ version: string }>(`SELECT version::text FROM ${MIGRATIONS_TABLE}`);
    expect(rows.rows.map((r) => r.version).sort()).toEqual(['10', '9']);
  });
});
