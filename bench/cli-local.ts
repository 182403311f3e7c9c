/**
 * `pgshift local backup` of a tiny database, as a user runs it: wall time and peak RSS of the whole process
 * tree (the CLI and every function it starts), sampled from /proc every 20 ms. The first run after a change
 * pays for synthesis and bundling; the next ones read the cached assembly. The rig (PostgreSQL + S3
 * stand-in) runs beside it and is not counted.
 *
 *   npm run bench:cli -- [runs=5] [--cold]    (--cold: empty the synthesis cache before the first run)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { samplePeakRss } from './process-tree';

const ROOT = path.resolve(__dirname, '..');

async function runOnce(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ ms: number; peakMiB: number; code: number }> {
  const started = process.hrtime.bigint();
  const child = spawn(path.join(ROOT, 'bin', 'pgshift'), args, {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const sampler = samplePeakRss(child.pid as number);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const peak = sampler.stop();
  if (code !== 0) throw new Error(`pgshift exited ${code}: ${stderr.slice(-2000)}`);
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, peakMiB: peak / 1048576, code };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
  const cold = process.argv.includes('--cold');
  const { spawnRig } =
    (await import('../test/rig/spawn-rig.mjs')) as typeof import('../test/rig/spawn-rig.mjs');
  const rig = await spawnRig();
  try {
    const { pg, s3 } = rig.info;
    const { withClient, targetFromUrl } = await import('../lambdas/shared/db');
    await withClient(targetFromUrl(rig.info.databaseUrl), async (c) => {
      await c.query('DROP DATABASE IF EXISTS bench_tiny');
      await c.query('CREATE DATABASE bench_tiny');
    });
    await withClient({ ...targetFromUrl(rig.info.databaseUrl), database: 'bench_tiny' }, (c) =>
      c.query('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g'),
    );
    const url = pg.caFile
      ? `postgres://${pg.user}:${encodeURIComponent(pg.password)}@localhost:${pg.port}/bench_tiny?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile)}`
      : `postgres://${pg.user}:${encodeURIComponent(pg.password)}@${pg.host}:${pg.port}/bench_tiny`;
    const cache = mkdtempSync(path.join(os.tmpdir(), 'pgshift-bench-cache-'));
    const env = {
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: s3.region,
      ...process.env,
      PGSHIFT_CACHE_DIR: cache,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    const args = [
      'local',
      'backup',
      '--json',
      '--database-url',
      url,
      '--bucket',
      s3.bucket,
      '--s3-endpoint',
      s3.endpoint,
    ];
    const results: { ms: number; peakMiB: number }[] = [];
    // The cache starts empty: the first run synthesizes and bundles. Reported with --cold; never counted
    // among the cached runs.
    const first = await runOnce(args, env);
    if (cold) {
      console.log(
        `first run (synthesis + bundling): ${(first.ms / 1000).toFixed(2)} s, peak RSS ${first.peakMiB.toFixed(0)} MiB`,
      );
    }
    for (let i = 0; i < runs; i++) results.push(await runOnce(args, env));
    console.log(
      `pgshift local backup, tiny database, ${runs} runs: median wall ${(median(results.map((r) => r.ms)) / 1000).toFixed(2)} s, ` +
        `median peak RSS of the process tree ${median(results.map((r) => r.peakMiB)).toFixed(0)} MiB ` +
        `(walls: ${results.map((r) => (r.ms / 1000).toFixed(2)).join(', ')})`,
    );
    rmSync(cache, { recursive: true, force: true });
  } finally {
    await rig.stop();
  }
}

void main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
