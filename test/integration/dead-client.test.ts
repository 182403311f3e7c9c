/**
 * A pgshift process killed mid-statement must not leave its backend running the statement with its locks held:
 * the sessions pgshift opens ask the server to check the client (client_connection_check_interval), so the
 * server ends the backend within seconds of the client's death.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import { applyMigrations, loadMigrations } from '../../lambdas/migrate';
import { freshDatabase, type TestDatabase } from '../rig/helpers';

const ROOT = join(__dirname, '../..');
const EXEC = 'arn:aws:states:us-east-1:000000000000:execution:pgshift:dead-client';

async function backendsOf(client: Client, database: string): Promise<{ pid: number; query: string }[]> {
  const res = await client.query<{ pid: number; query: string }>(
    "SELECT pid, query FROM pg_stat_activity WHERE datname = $1 AND application_name = 'pgshift-dead-client'",
    [database],
  );
  return res.rows;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('dead client (real PostgreSQL, real killed process)', () => {
  let db: TestDatabase;
  let client: Client;
  beforeEach(async () => {
    db = await freshDatabase('dead');
    client = await db.client();
  });
  afterEach(async () => {
    await client.end().catch(() => undefined);
    await db.drop();
  });

  test('a migrate killed during pg_sleep(60) leaves no backend or lock 10 s later; a new run takes the lock', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'pgshift-dead-'));
    await writeFile(join(dir, '1_slow.up.sql'), 'CREATE TABLE slow (id bigint);\nSELECT pg_sleep(60);\n');
    const script = join(dir, 'child.ts');
    await writeFile(
      script,
      `import { connect } from ${JSON.stringify(join(ROOT, 'lambdas/shared/db'))};
import { applyMigrations, loadMigrations } from ${JSON.stringify(join(ROOT, 'lambdas/migrate'))};
(async () => {
  const client = await connect(JSON.parse(process.env.TARGET as string), 'pgshift-dead-client');
  await applyMigrations(client, await loadMigrations(${JSON.stringify(dir)}), { executionId: 'child' });
})();
`,
    );
    // node itself (not the tsx wrapper), so SIGKILL ends the process that holds the connection.
    const child = spawn(process.execPath, ['--import', 'tsx', script], {
      cwd: ROOT,
      env: { ...process.env, TARGET: JSON.stringify(db.target) },
      stdio: 'ignore',
    });
    try {
      const backend = await waitFor('the child to run pg_sleep', 60_000, async () =>
        (await backendsOf(client, db.target.database)).find((b) => b.query.includes('pg_sleep')),
      );
      child.kill('SIGKILL');
      const killedAt = Date.now();
      await waitFor('the backend to end', 10_000, async () => {
        const alive = await client.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend.pid]);
        return alive.rowCount === 0 ? true : undefined;
      });
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      const locks = await client.query('SELECT 1 FROM pg_locks WHERE pid = $1', [backend.pid]);
      expect(locks.rowCount).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    await writeFile(join(dir, '1_slow.up.sql'), 'CREATE TABLE slow (id bigint);\n');
    const result = await applyMigrations(client, await loadMigrations(dir), { executionId: EXEC });
    expect(result.applied.map((a) => a.version)).toEqual(['1']);
  }, 90_000);
});
