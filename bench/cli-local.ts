/**
 * `pgshift local backup` of a tiny database, as a user runs it: wall time and peak RSS of the whole process
 * tree (the CLI and every function it starts), sampled from /proc every 20 ms. The first run after a change
 * pays for synthesis and bundling; the next ones read the cached assembly. The rig (PostgreSQL + S3
 * stand-in) runs beside it and is not counted.
 *
 *   npm run bench:cli -- [runs=5] [--cold]    (--cold: empty the synthesis cache before the first run)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');

function rssOfTree(rootPid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      const pages = Number(fields[21]);
      const pid = Number(name);
      rss.set(pid, pages * 4096);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop() as number;
    total += rss.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

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
  let peak = 0;
  const timer = setInterval(() => {
    if (child.pid) peak = Math.max(peak, rssOfTree(child.pid));
  }, 20);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  clearInterval(timer);
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
    if (cold) {
      const first = await runOnce(args, env);
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
