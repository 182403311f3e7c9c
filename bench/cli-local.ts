/**
 * `pgshift local backup` of a tiny database, as a user runs it: wall time and peak RSS of the whole process
 * tree (the CLI and every process it starts: pg_dump, functions in child processes), sampled from /proc every
 * 20 ms. The first run after a change pays for synthesis and bundling; the next ones read the cached assembly.
 * The rig (PostgreSQL + S3 stand-in) runs beside it and is not counted. Variants run alternated, so load on
 * the machine falls on each alike.
 *
 *   npm run bench:cli -- [runs=5] [--cold] [--variants=threads,processes]
 *   (--cold: empty the synthesis cache before the first run; variants: see VARIANTS)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { samplePeakRss } from './process-tree';

const ROOT = path.resolve(__dirname, '..');

/** How the CLI is started: extra environment and `node` flags (none: the shebang's). */
interface Variant {
  env: Record<string, string>;
  nodeArgs?: string[];
}

const VARIANTS: Record<string, Variant> = {
  /** Functions in worker threads (PGSHIFT_FUNCTION_ISOLATION=thread), the cached CLI bundle. */
  threads: { env: { PGSHIFT_FUNCTION_ISOLATION: 'thread' } },
  /** Functions in child processes, the CLI through tsx, no malloc or size tuning: as before issue 18's CLI work. */
  processes: {
    env: { PGSHIFT_FUNCTION_ISOLATION: 'process', PGSHIFT_CLI_BUNDLE: '0' },
    nodeArgs: ['--max-semi-space-size=2'],
  },
  /** Functions in child processes, the CLI from its bundle. */
  'processes-bundle': { env: { PGSHIFT_FUNCTION_ISOLATION: 'process' } },
  /** Functions in worker threads, the CLI through tsx. */
  'threads-tsx': { env: { PGSHIFT_FUNCTION_ISOLATION: 'thread', PGSHIFT_CLI_BUNDLE: '0' } },
  /** As `threads`, without the shebang's malloc settings and V8's size-optimized mode. */
  'threads-untuned': { env: { PGSHIFT_FUNCTION_ISOLATION: 'thread' }, nodeArgs: ['--max-semi-space-size=2'] },
  /** As `threads`, and the malloc settings without V8's size-optimized mode. */
  'threads-malloc-only': {
    env: { PGSHIFT_FUNCTION_ISOLATION: 'thread', MALLOC_ARENA_MAX: '1', MALLOC_MMAP_THRESHOLD_: '131072' },
    nodeArgs: ['--max-semi-space-size=2'],
  },
};

async function runOnce(
  args: string[],
  env: NodeJS.ProcessEnv,
  variant: Variant,
): Promise<{ ms: number; peakMiB: number; code: number }> {
  const started = process.hrtime.bigint();
  const bin = path.join(ROOT, 'bin', 'pgshift');
  const [file, argv] = variant.nodeArgs
    ? [process.execPath, [...variant.nodeArgs, bin, ...args]]
    : [bin, args];
  const child = spawn(file, argv, {
    cwd: ROOT,
    env: { ...env, ...variant.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const sampler = samplePeakRss(child.pid ?? 0);
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const peak = sampler.stop();
  if (code !== 0) throw new Error(`pgshift exited ${code}: ${stderr.slice(-2000)}`);
  return { ms: Number(process.hrtime.bigint() - started) / 1e6, peakMiB: peak / 1048576, code };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

/** A database of 1,000 rows on the rig; its URL as a user passes it (TLS verify-full when the rig has a CA). */
async function tinyDatabase(info: import('../test/rig/servers.d.mts').RigInfo): Promise<string> {
  const { withClient, targetFromUrl } = await import('../lambdas/shared/db');
  await withClient(targetFromUrl(info.databaseUrl), async (c) => {
    await c.query('DROP DATABASE IF EXISTS bench_tiny');
    await c.query('CREATE DATABASE bench_tiny');
  });
  await withClient({ ...targetFromUrl(info.databaseUrl), database: 'bench_tiny' }, (c) =>
    c.query('CREATE TABLE t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g'),
  );
  const { pg } = info;
  return pg.caFile
    ? `postgres://${pg.user}:${encodeURIComponent(pg.password)}@localhost:${pg.port}/bench_tiny?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile)}`
    : `postgres://${pg.user}:${encodeURIComponent(pg.password)}@${pg.host}:${pg.port}/bench_tiny`;
}

function variantsAsked(): [string, Variant][] {
  const names = (process.argv.find((a) => a.startsWith('--variants='))?.slice(11) ?? 'threads').split(',');
  return names.map((name) => {
    const variant = VARIANTS[name];
    if (!variant) throw new Error(`unknown variant ${name} (known: ${Object.keys(VARIANTS).join(', ')})`);
    return [name, variant];
  });
}

async function main(): Promise<void> {
  const runs = Number(process.argv.find((a) => /^\d+$/.test(a)) ?? 5);
  const cold = process.argv.includes('--cold');
  const variants = variantsAsked();
  const { spawnRig } =
    (await import('../test/rig/spawn-rig.mjs')) as typeof import('../test/rig/spawn-rig.mjs');
  const rig = await spawnRig();
  try {
    const { s3 } = rig.info;
    const url = await tinyDatabase(rig.info);
    const cache = mkdtempSync(path.join(os.tmpdir(), 'pgshift-bench-cache-'));
    const env = {
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_REGION: s3.region,
      ...process.env,
      PGSHIFT_CACHE_DIR: cache,
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    };
    const args = ['local', 'backup', '--json', '--database-url', url];
    args.push('--bucket', s3.bucket, '--s3-endpoint', s3.endpoint);
    // The cache starts empty: the first run synthesizes and bundles. Reported with --cold; never counted
    // among the cached runs.
    const [, firstVariant] = variants[0] ?? ['threads', { env: {} }];
    const first = await runOnce(args, env, firstVariant);
    if (cold) {
      console.log(
        `first run (synthesis + bundling): ${(first.ms / 1000).toFixed(2)} s, peak RSS ${first.peakMiB.toFixed(0)} MiB`,
      );
    }
    const results = new Map<string, { ms: number; peakMiB: number }[]>(variants.map(([n]) => [n, []]));
    for (let i = 0; i < runs; i++) {
      for (const [name, variant] of variants) results.get(name)?.push(await runOnce(args, env, variant));
    }
    for (const [name, rs] of results) {
      console.log(
        `${name}: pgshift local backup, tiny database, ${runs} runs: median wall ${(median(rs.map((r) => r.ms)) / 1000).toFixed(2)} s, ` +
          `median peak RSS of the process tree ${median(rs.map((r) => r.peakMiB)).toFixed(0)} MiB ` +
          `(${(median(rs.map((r) => r.peakMiB)) * 1.048576).toFixed(0)} MB; max ${Math.max(...rs.map((r) => r.peakMiB)).toFixed(0)} MiB; ` +
          `walls: ${rs.map((r) => (r.ms / 1000).toFixed(2)).join(', ')})`,
      );
    }
    rmSync(cache, { recursive: true, force: true });
  } finally {
    await rig.stop();
  }
}

void main().catch((err: Error) => {
  console.error(err.message);
  process.exit(1);
});
