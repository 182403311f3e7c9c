/**
 * Backup throughput and memory: raw pg_dump vs pgshift's streamed upload to the local S3 server, on generated
 * databases of ~250 MB and ~1 GB. `npm run bench:backup` (env BENCH_RUNS, default 3; BENCH_SIZES=250,1000).
 * Each pgshift run happens in its own Node process so its peak RSS is that run's, not the benchmark's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, openSync, closeSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { streamDumpToS3 } from '../lambdas/backup';
import { libpqEnv, quoteIdent, targetFromUrl, withClient, type DatabaseTarget } from '../lambdas/shared/db';
import { silentLogger } from '../lambdas/shared/logger';
import { pgToolPath } from '../lambdas/shared/pgtools';
import { createS3Client, type ObjectStore } from '../lambdas/shared/s3';
import type { RigInfo } from '../test/rig/servers.d.mts';

interface ChildJob {
  target: DatabaseTarget;
  s3: { endpoint: string; bucket: string; region: string };
}

function storeFor(s3: ChildJob['s3']): ObjectStore {
  return {
    s3: createS3Client({ endpoint: s3.endpoint, region: s3.region }),
    bucket: s3.bucket,
    kmsKeyId: 'bench-key',
  };
}

/** Child mode: one streamed backup, then its timing and this process's peak RSS as JSON on stdout. */
async function childRun(job: ChildJob): Promise<void> {
  const store = storeFor(job.s3);
  // What the process holds before the backup starts (Node, the SDK, and tsx's compiler in this child), so the
  // growth during the backup can be told apart from the runtime's baseline.
  const rssStartMb = process.memoryUsage().rss / 1048576;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await streamDumpToS3(
    { store, log: silentLogger },
    {
      target: job.target,
      database: job.target.database,
      executionId: 'bench',
      compression: '1',
      // BENCH_PART_MB / BENCH_QUEUE_SIZE try other multipart settings than the defaults (8 MiB × 4).
      partSize: process.env.BENCH_PART_MB ? Number(process.env.BENCH_PART_MB) * 1048576 : undefined,
      queueSize: process.env.BENCH_QUEUE_SIZE ? Number(process.env.BENCH_QUEUE_SIZE) : undefined,
    },
  );
  const ms = performance.now() - t0;
  await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: r.key }));
  await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: r.manifestKey }));
  process.stdout.write(
    JSON.stringify({
      ms,
      bytes: r.manifest.sizeBytes,
      maxRssMb: process.resourceUsage().maxRSS / 1024,
      rssStartMb,
      cpuMs: (() => {
        const d = process.cpuUsage(cpu0);
        return (d.user + d.system) / 1000;
      })(),
    }) + '\n',
  );
}

async function timed(fn: () => Promise<number>): Promise<{ ms: number; bytes: number }> {
  const t0 = performance.now();
  const bytes = await fn();
  return { ms: performance.now() - t0, bytes };
}

function pgDump(target: DatabaseTarget, args: string[], sink: 'devnull' | string): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd = sink === 'devnull' ? openSync('/dev/null', 'w') : undefined;
    const child = spawn(pgToolPath('pg_dump'), ['--format=custom', ...args, '--no-password'], {
      env: libpqEnv(target),
      stdio: ['ignore', fd ?? 'pipe', 'inherit'],
    });
    let bytes = 0;
    if (fd === undefined) {
      const out = createWriteStream(sink);
      child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
      child.stdout!.pipe(out);
    }
    child.on('close', (code) => {
      if (fd !== undefined) closeSync(fd);
      if (code !== 0) return reject(new Error(`pg_dump exited ${code}`));
      resolve(fd === undefined ? statSync(sink).size : bytes);
    });
  });
}

function streamedInChild(
  job: ChildJob,
): Promise<{ ms: number; bytes: number; maxRssMb: number; rssStartMb: number; cpuMs: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--child', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`)),
    );
  });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** pgbench tables (scale) plus a wide text/jsonb table (wideMb), generated server-side. */
async function generate(info: RigInfo, admin: DatabaseTarget, name: string, scale: number, wideMb: number) {
  await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`));
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
  const target = { ...admin, database: name };
  const r = spawnSync('/usr/lib/postgresql/15/bin/pgbench', ['-i', '-q', '-s', String(scale)], {
    env: libpqEnv(target),
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (r.status !== 0) throw new Error('pgbench -i failed');
  const rows = Math.round((wideMb * 1024 * 1024) / 1100);
  await withClient(target, async (c) => {
    await c.query('CREATE TABLE wide (id bigint PRIMARY KEY, body text, doc jsonb)');
    // Random hex text compresses about 2:1, like real prose; jsonb adds structure. The subquery refers to g so
    // that it runs per row: uncorrelated, PostgreSQL would compute it once and every row would be the same text.
    await c.query(
      `INSERT INTO wide SELECT g, (SELECT string_agg(md5(random()::text || i || g), ' ') FROM generate_series(1, 24) i),
              jsonb_build_object('n', g, 'tags', jsonb_build_array(md5(g::text), random()), 'note', md5(random()::text))
         FROM generate_series(1, $1) g`,
      [rows],
    );
    await c.query('VACUUM ANALYZE');
  });
  void info;
  return target;
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const sizes = (process.env.BENCH_SIZES ?? '250,1000').split(',').map(Number);
  const { spawnRig } = await import('../test/rig/spawn-rig.mjs');
  const rig = await spawnRig();
  const info = rig.info as RigInfo;
  process.env.PGSHIFT_PG_BIN ??= info.pg.bin;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const admin = targetFromUrl(info.databaseUrl);
  const dir = mkdtempSync(join(tmpdir(), 'pgshift-bench-'));
  const rowsOut: string[] = [];
  try {
    for (const sizeMb of sizes) {
      // pgbench scale 1 is ~15 MB on disk; three quarters pgbench, one quarter wide rows.
      const scale = Math.max(1, Math.round((sizeMb * 0.75) / 15));
      const t0 = performance.now();
      const target = await generate(info, admin, `bench_${sizeMb}`, scale, sizeMb * 0.25);
      const dbBytes = await withClient(target, async (c) =>
        Number((await c.query('SELECT pg_database_size(current_database()) AS b')).rows[0].b),
      );
      console.error(
        `generated ${target.database}: ${(dbBytes / 1e6).toFixed(0)} MB in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
      );
      const res: Record<
        string,
        { ms: number[]; bytes: number; rss?: number[]; rssStart?: number[]; cpu?: number[] }
      > = {};
      const add = (
        k: string,
        r: { ms: number; bytes: number; maxRssMb?: number; rssStartMb?: number; cpuMs?: number },
      ): void => {
        res[k] ??= { ms: [], bytes: r.bytes, rss: [], rssStart: [], cpu: [] };
        res[k].ms.push(r.ms);
        if (r.maxRssMb !== undefined) res[k].rss!.push(r.maxRssMb);
        if (r.rssStartMb !== undefined) res[k].rssStart!.push(r.rssStartMb);
        if (r.cpuMs !== undefined) res[k].cpu!.push(r.cpuMs);
      };
      for (let i = 0; i < runs; i++) {
        add('a', await timed(() => pgDump(target, ['--compress=1'], 'devnull')));
        add("a'", await timed(() => pgDump(target, [], 'devnull')));
        const file = join(dir, 'dump.bin');
        add('b', await timed(() => pgDump(target, ['--compress=1'], file)));
        rmSync(file, { force: true });
        add('c', await streamedInChild({ target, s3: info.s3 }));
        console.error(`  run ${i + 1}/${runs} done`);
      }
      const a = median(res.a.ms);
      const a2 = median(res["a'"].ms);
      const line = (k: string, label: string): string => {
        const m = median(res[k].ms);
        const mbps = dbBytes / 1e6 / (m / 1000);
        const rss =
          res[k].rss && res[k].rss!.length
            ? `${Math.max(...res[k].rss!).toFixed(0)} MB (${median(res[k].rssStart!).toFixed(0)} MB at start; ` +
              `Node CPU ${(median(res[k].cpu!) / 1000).toFixed(2)} s)`
            : '';
        return `| ${(dbBytes / 1e6).toFixed(0)} MB | ${label} | ${(m / 1000).toFixed(2)} s | ${mbps.toFixed(0)} MB/s | ${res[k].bytes ? `${(res[k].bytes / 1e6).toFixed(0)} MB` : '—'} | ${(m / a).toFixed(2)} | ${(m / a2).toFixed(2)} | ${rss} |`;
      };
      rowsOut.push(
        line('a', '(a) `pg_dump -Fc -Z1` → /dev/null'),
        line("a'", "(a') `pg_dump -Fc` (default -Z6) → /dev/null"),
        line('b', '(b) `pg_dump -Fc -Z1` → local file'),
        line('c', '(c) pgshift streamed upload → local S3'),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await rig.stop();
  }
  console.log(`runs per variant: ${runs} (median shown); throughput = database size / wall time`);
  console.log(
    "| database | variant | wall (median) | throughput | dump size | ÷ (a) | ÷ (a') | Node peak RSS (at start; CPU) |",
  );
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rowsOut) console.log(r);
}

const childIdx = process.argv.indexOf('--child');
if (childIdx >= 0) {
  childRun(JSON.parse(process.argv[childIdx + 1]) as ChildJob).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
