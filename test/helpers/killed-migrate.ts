/**
 * A migrate run whose client dies for real: `applyMigrations` in a child node process, killed with SIGKILL
 * while its backend is busy. The dead-client and interrupted-migration tests share it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Client } from 'pg';
import type { DatabaseTarget } from '../../lambdas/shared/db';
import { waitFor } from './wait-for';

const ROOT = join(__dirname, '../..');

/** Waits up to `timeoutMs` for the server to end backend `pid`. */
export async function waitForBackendEnd(client: Client, pid: number, timeoutMs: number): Promise<void> {
  await waitFor('the backend to end', timeoutMs, async () => {
    const alive = await client.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [pid]);
    return alive.rowCount === 0 ? true : undefined;
  });
}

export interface KilledMigrateRun {
  target: DatabaseTarget;
  /** The migrations folder the child applies. */
  dir: string;
  /** The child's application_name (its backend is found by it). */
  application: string;
  executionId: string;
  lockTimeout?: string;
  /** What the backend does when the child is killed: a condition on pg_stat_activity ("query LIKE ..."). */
  busy: string;
  /** How long the server may take to end the backend once the child is dead. */
  endsWithinMs: number;
}

/**
 * Runs the child, waits (60 s at most) until its backend matches `busy`, kills the child and waits for the
 * server to end the backend. Returns the backend's pid and when the child was killed.
 */
export async function killMigrateWhile(
  client: Client,
  run: KilledMigrateRun,
): Promise<{ backend: number; killedAt: number }> {
  const script = join(await mkdtemp(join(tmpdir(), 'pgshift-child-')), 'child.ts');
  const options = {
    executionId: run.executionId,
    ...(run.lockTimeout ? { lockTimeout: run.lockTimeout } : {}),
  };
  await writeFile(
    script,
    `import { connect } from ${JSON.stringify(join(ROOT, 'lambdas/shared/db'))};
import { applyMigrations, loadMigrations } from ${JSON.stringify(join(ROOT, 'lambdas/migrate'))};
(async () => {
  const client = await connect(JSON.parse(process.env.TARGET as string), ${JSON.stringify(run.application)});
  await applyMigrations(client, await loadMigrations(${JSON.stringify(run.dir)}), ${JSON.stringify(options)});
})();
`,
  );
  // node itself (not the tsx wrapper), so SIGKILL ends the process that holds the connection.
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: ROOT,
    env: { ...process.env, TARGET: JSON.stringify(run.target) },
    stdio: 'ignore',
  });
  try {
    const backend = await waitFor(`the child to run ${run.busy}`, 60_000, async () => {
      const res = await client.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 AND ${run.busy}`,
        [run.target.database, run.application],
      );
      return res.rows[0]?.pid;
    });
    child.kill('SIGKILL');
    const killedAt = Date.now();
    await waitForBackendEnd(client, backend, run.endsWithinMs);
    return { backend, killedAt };
  } finally {
    child.kill('SIGKILL');
  }
}
