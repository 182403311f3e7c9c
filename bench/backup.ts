/**
 * Backup (and restore) at the speed limit: every variant side by side, alternated in each round, medians of
 * BENCH_RUNS rounds, the baseline (raw pg_dump) measured in the same run, results written to
 * bench/results/backup-<timestamp>.md. `npm run bench:backup`; `npm run bench:backup:final` is the whole
 * measurement docs/performance.md reports (250 MB and 1.2 GB with every default variant; 5 GB with raw, raw-tls,
 * discard, cli and cli-discard; restore and compression on 1.2 GB: about 30 minutes on a 2-vCPU machine).
 *
 * Variants per database (BENCH_SIZES, MB; generated once and kept, see bench-db.ts):
 *   raw       pg_dump -Fc -Z1 > /dev/null (the limit at pgshift's settings), CPU and RSS from /usr/bin/time
 *   raw-pipe  pg_dump -Fc -Z1 | cat > /dev/null: what merely reading pg_dump's output through a pipe costs on
 *             this machine (the floor of any streaming reader, pgshift's included)
 *   raw-tls   the same as raw over TLS verify-full to localhost, as the CLI (and pgshift against RDS) connects: the
 *             baseline of the cli variants' ratios
 *   discard   pgshift's streaming path (hash + multipart upload, this checkout) into an S3 endpoint that reads
 *             and discards (bench/discard-s3.mjs): pgshift's own cost without the S3 stand-in's
 *   store     the same into the S3 stand-in (fauxqs)
 *   before    the streaming path as of BENCH_BASELINE_REV (its dump.ts, upload-watch.ts and multipart.ts) into
 *             the S3 stand-in
 *   discard-before  the same into the discarding endpoint: the baseline of discard's CPU
 *   cli       `bin/pgshift local backup` as a user runs it: whole process tree (CLI, function processes,
 *             pg_dump), wall including process start, peak RSS sampled every 20 ms, CPU of the whole tree
 *             (pg_dump's included: compare with raw's)
 *   cli-discard  the same into the discarding endpoint (SNS still the stand-in's): the CLI without fauxqs
 *   cli-process  the CLI with its functions in child processes (PGSHIFT_FUNCTION_ISOLATION=process)
 *   cli-no-ahead  the CLI starting each function only when its state runs (PGSHIFT_LOCAL_WARM_AHEAD=0)
 *   cli-warm  the same with every function kept warm and V8's default young generation (the previous
 *             process model), for the memory comparison
 * BENCH_VARIANTS picks some (comma-separated). BENCH_RESTORE=<size> adds a restore comparison on that
 * database (pg_restore from a local file vs pgshift's streamed restore from the S3 stand-in, one job, and the
 * Fargate restoreJobs 2 path: download to local storage, then pg_restore --jobs=2).
 * BENCH_COMPRESSION=<size> adds compression methods on that database (one run each).
 * Each streamed variant runs in its own Node process (after a warm-up backup of a tiny database, so module
 * loading is not counted) and reports its own CPU time and peak RSS.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  closeSync,
  createWriteStream,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { libpqEnv, quoteIdent, targetFromUrl, withClient, type DatabaseTarget } from '../lambdas/shared/db';
import { silentLogger } from '../lambdas/shared/logger';
import { pgToolPath } from '../lambdas/shared/pgtools';
import { createS3Client, getObjectStream, type ObjectStore } from '../lambdas/shared/s3';
import type { RigInfo } from '../test/rig/servers.d.mts';
import { benchClusterDir, ensureBenchDatabase } from './bench-db';
import { machineBusyMs, samplePeakRss } from './process-tree';

const ROOT = resolve(__dirname, '..');
const BASELINE_DIR = join(ROOT, '.pgshift-local', 'bench-baseline');
const WARMUP_DB = 'bench_warmup';

interface ChildJob {
  target: DatabaseTarget;
  s3: { endpoint: string; bucket: string; region: string };
  impl: 'current' | 'baseline';
}

interface Sample {
  ms: number;
  bytes?: number;
  /** CPU time (user + system) of the measured process itself. */
  cpuMs?: number;
  /** Peak RSS: of the process, or of the whole tree for the CLI. */
  rssMb?: number;
  /** Busy CPU of the whole machine during the sample (every process, other users' included). */
  machineCpuMs?: number;
}

function storeFor(s3: ChildJob['s3']): ObjectStore {
  return {
    s3: createS3Client({ endpoint: s3.endpoint, region: s3.region }),
    bucket: s3.bucket,
    kmsKeyId: 'bench-key',
  };
}

type StreamDump = typeof import('../lambdas/backup/dump').streamDumpToS3;

/** The baseline's dump.ts, extracted from git at run time (so untyped here): its streamDumpToS3. */
function baselineStreamDump(loaded: unknown): StreamDump {
  const isModule = (m: unknown): m is { streamDumpToS3: StreamDump } =>
    typeof m === 'object' && m !== null && 'streamDumpToS3' in m && typeof m.streamDumpToS3 === 'function';
  if (!isModule(loaded)) throw new Error(`${BASELINE_DIR}/dump.ts exports no streamDumpToS3`);
  return loaded.streamDumpToS3;
}

/** Child mode: a warm-up backup, then one measured backup; its timing, CPU and peak RSS as JSON on stdout. */
async function childRun(job: ChildJob): Promise<void> {
  const streamDumpToS3 =
    job.impl === 'baseline'
      ? baselineStreamDump(await import(join(BASELINE_DIR, 'dump.ts')))
      : (await import('../lambdas/backup/dump')).streamDumpToS3;
  const store = storeFor(job.s3);
  const once = async (target: DatabaseTarget) => {
    const r = await streamDumpToS3(
      { store, log: silentLogger },
      { target, executionId: 'bench', compression: '1' },
    );
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: r.key }));
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: r.manifestKey }));
    return r;
  };
  // Loads every module the backup uses (a Lambda bundle has them compiled already), so what is measured
  // below is the streaming path, not tsx's compiler or the SDK's first use.
  await once({ ...job.target, database: WARMUP_DB });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await once(job.target);
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  process.stdout.write(
    JSON.stringify({
      ms,
      bytes: r.manifest.sizeBytes,
      cpuMs: (cpu.user + cpu.system) / 1000,
      rssMb: process.resourceUsage().maxRSS / 1024,
    }) + '\n',
  );
}

async function withMachineCpu(fn: () => Promise<Sample>): Promise<Sample> {
  const m0 = machineBusyMs();
  const s = await fn();
  return { ...s, machineCpuMs: machineBusyMs() - m0 };
}

/** Runs argv under /usr/bin/time: wall, the process tree's CPU and its largest RSS. */
function timedCommand(argv: string[], env: NodeJS.ProcessEnv, stdoutFile = '/dev/null'): Promise<Sample> {
  const timeFile = join(tmpdir(), `pgshift-bench-time-${process.pid}`);
  return new Promise((resolvePromise, reject) => {
    const out = openSync(stdoutFile, 'w');
    const t0 = performance.now();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, ...argv], {
      env,
      stdio: ['ignore', out, 'inherit'],
    });
    child.on('close', (code) => {
      closeSync(out);
      const ms = performance.now() - t0;
      if (code !== 0) return reject(new Error(`${argv.join(' ')} exited ${code}`));
      const [user, sys, maxKb] = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1)!.split(' ');
      rmSync(timeFile, { force: true });
      resolvePromise({ ms, cpuMs: (Number(user) + Number(sys)) * 1000, rssMb: Number(maxKb) / 1024 });
    });
  });
}

function streamedInChild(job: ChildJob): Promise<Sample> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--child', JSON.stringify(job)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: process.env,
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('close', (code) =>
      code === 0 ? resolvePromise(JSON.parse(out) as Sample) : reject(new Error(`child exited ${code}`)),
    );
  });
}

/** `bin/pgshift local backup` of `database`, wall from spawn to exit and the tree's peak RSS. */
async function cliBackup(
  info: RigInfo,
  database: string,
  mode: 'current' | 'warm',
  env: NodeJS.ProcessEnv,
  s3Endpoint = info.s3.endpoint,
): Promise<Sample> {
  const { pg } = info;
  const s3 = { ...info.s3, endpoint: s3Endpoint };
  const url =
    `postgres://${pg.user}:${encodeURIComponent(pg.password)}@localhost:${pg.port}/${database}` +
    (pg.caFile ? `?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile)}` : '');
  const args = [
    'local',
    'backup',
    '--json',
    '--database-url',
    url,
    '--bucket',
    s3.bucket,
    // SNS stays the stand-in's (the discarding endpoint answers S3 only).
    '--sns-endpoint',
    info.sns.endpoint,
    '--s3-endpoint',
    s3.endpoint,
  ];
  // The previous process model: `node` without the shebang's heap flag, every function kept warm.
  const argv =
    mode === 'warm'
      ? [process.execPath, join(ROOT, 'bin', 'pgshift'), ...args]
      : [join(ROOT, 'bin', 'pgshift'), ...args];
  // Under /usr/bin/time for the CPU of the whole tree (CLI, functions, pg_dump); its own ~2 MB of RSS is
  // counted in the peak.
  const timeFile = join(tmpdir(), `pgshift-bench-cli-time-${process.pid}`);
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, ...argv], {
    cwd: ROOT,
    env: { ...env, ...(mode === 'warm' ? { PGSHIFT_LOCAL_WARM_FUNCTIONS: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const sampler = samplePeakRss(child.pid as number);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const code = await new Promise<number>((r) => child.on('close', (c) => r(c ?? -1)));
  const ms = performance.now() - t0;
  const peak = sampler.stop();
  if (code !== 0) throw new Error(`pgshift local backup exited ${code}: ${stderr.slice(-1500)}`);
  const lastLine = readFileSync(timeFile, 'utf8').trim().split('\n').at(-1) ?? '';
  const [user = NaN, sys = NaN] = lastLine.split(' ').map(Number);
  rmSync(timeFile, { force: true });
  const doc = JSON.parse(stdout) as { results?: { backup?: { key?: string; manifestKey?: string } } };
  const written = doc.results?.backup;
  const store = storeFor(s3);
  for (const key of [written?.key, written?.manifestKey]) {
    if (key) await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: key }));
  }
  return { ms, rssMb: peak / 1048576, cpuMs: (user + sys) * 1000 };
}

/** The streaming path as of `rev` (dump.ts and upload-watch.ts from git), importable by a child. */
function extractBaseline(rev: string): void {
  rmSync(BASELINE_DIR, { recursive: true, force: true });
  mkdirSync(BASELINE_DIR, { recursive: true });
  // multipart.ts only where the revision has it (lib-storage came before it).
  const files = ['dump.ts', 'upload-watch.ts', 'multipart.ts'].filter((file) => {
    try {
      execFileSync('git', ['cat-file', '-e', `${rev}:lambdas/backup/${file}`], {
        cwd: ROOT,
        stdio: 'ignore',
      });
      return true;
    } catch {
      return false;
    }
  });
  for (const file of files) {
    const text = execFileSync('git', ['show', `${rev}:lambdas/backup/${file}`], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      // Modules moved since the baseline (issue 19: versions in two modules): point its imports at them.
      .replace(
        /import \{ parsePgVersion, pgToolPath, pgToolVersion, type ToolVersion \} from '\.\.\/shared\/pgtools';/,
        "import { pgToolPath } from '../shared/pgtools';\nimport { parsePgVersion, pgToolVersion } from '../shared/pg-version';",
      )
      .replace(/\bToolVersion\b/g, 'PgVersion')
      .replace("from '../shared/version'", "from '../shared/pgshift-version'")
      .replace("from './versions'", "from '../shared/pg-version'")
      .replace(/from '\.\.\/shared\//g, "from '../../lambdas/shared/")
      .replace(
        new RegExp(`from '\\./(?!(?:${files.map((f) => f.replace('.ts', '')).join('|')})')([\\w-]+)'`, 'g'),
        "from '../../lambdas/backup/$1'",
      );
    writeFileSync(join(BASELINE_DIR, file), text);
  }
}

/** The variants whose pg_dump connects over TLS (verify-full): the CLI's, and raw-tls, their baseline. */
function overTls(variant: string): boolean {
  return variant === 'raw-tls' || variant.startsWith('cli');
}

/** `target` as the CLI connects to it: TLS with the rig's CA, verified against the host name. */
function tlsTarget(target: DatabaseTarget, caFile: string | undefined): DatabaseTarget {
  if (!caFile) throw new Error('raw-tls needs the rig to run with TLS (its CA file)');
  return { ...target, host: 'localhost', sslMode: 'verify-full', sslRootCert: caFile };
}

function startDiscardSink(): Promise<{ endpoint: string; stop: () => void }> {
  const child = spawn(process.execPath, [join(__dirname, 'discard-s3.mjs')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolvePromise) => {
    child.stdout.once('data', (d) => {
      const { endpoint } = JSON.parse(String(d)) as { endpoint: string };
      resolvePromise({ endpoint, stop: () => child.kill() });
    });
  });
}

const shellQuote = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
/** The largest peak RSS of the samples that measured one. */
function rssColumn(samples: Sample[]): string {
  const rss = samples.flatMap((x) => (x.rssMb === undefined ? [] : [x.rssMb]));
  return rss.length > 0 ? `${Math.max(...rss).toFixed(0)} MB` : '';
}
const fmt = (n: number | undefined, digits = 2): string => (n === undefined ? '' : n.toFixed(digits));

/** Empty database for a restore, dropped afterwards. */
async function freshEmpty(admin: DatabaseTarget, name: string): Promise<DatabaseTarget> {
  await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`));
  await withClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE template0`));
  return { ...admin, database: name };
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  // "250,1200,5000:raw+discard+cli": a size may name its own variants (the large one only what it shows).
  const sizes = (process.env.BENCH_SIZES ?? '250,1200').split(',').map((spec) => {
    const [size, only] = spec.split(':');
    return { sizeMb: Number(size), only: only?.split('+') };
  });
  const allVariants = (
    process.env.BENCH_VARIANTS ?? 'raw,raw-tls,discard,store,before,cli,cli-discard,cli-process'
  ).split(',');
  const baselineRev = process.env.BENCH_BASELINE_REV ?? '43bb679';
  const restoreSize = process.env.BENCH_RESTORE ? Number(process.env.BENCH_RESTORE) : undefined;
  const compressionSize = process.env.BENCH_COMPRESSION ? Number(process.env.BENCH_COMPRESSION) : undefined;
  process.env.PGSHIFT_RIG_PG_DIR = benchClusterDir();
  const { spawnRig } = await import('../test/rig/spawn-rig.mjs');
  const rig = await spawnRig();
  const info: RigInfo = rig.info;
  process.env.PGSHIFT_PG_BIN ??= info.pg.bin;
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.AWS_REGION ??= info.s3.region;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  const cliEnv: NodeJS.ProcessEnv = { ...process.env, POWERTOOLS_LOG_LEVEL: 'SILENT' };
  const admin = targetFromUrl(info.databaseUrl);
  const sink = await startDiscardSink();
  const lines: string[] = [];
  const log = (s: string): void => {
    console.log(s);
    lines.push(s);
  };
  const load0 = loadavg();
  const started = new Date();
  try {
    await withClient(admin, async (c) => {
      const has = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [WARMUP_DB]);
      if (has.rowCount === 0) await c.query(`CREATE DATABASE ${WARMUP_DB}`);
    });
    await withClient({ ...admin, database: WARMUP_DB }, (c) =>
      c.query(
        'CREATE TABLE IF NOT EXISTS t AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000) g',
      ),
    );
    if (allVariants.some((v) => v === 'before' || v === 'discard-before')) extractBaseline(baselineRev);
    const pgDumpEnv = (target: DatabaseTarget) => ({ ...process.env, ...libpqEnv(target) });
    const rawArgv = [pgToolPath('pg_dump'), '--format=custom', '--compress=1', '--no-password'];
    if ([...allVariants, ...sizes.flatMap((x) => x.only ?? [])].some((v) => v.startsWith('cli'))) {
      // A cached synthesis, as every run but the first after a change.
      await cliBackup(info, WARMUP_DB, 'current', cliEnv);
    }
    log(
      `# pgshift backup benchmark, ${started.toISOString()}\n\n` +
        `Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
        `Node.js ${process.version}, pg_dump ${execFileSync(pgToolPath('pg_dump'), ['--version'], { encoding: 'utf8' }).trim()}; ` +
        `load average at start ${load0.map((l) => l.toFixed(2)).join(' ')}. Runs: ${runs}, variants alternated in ` +
        `each run, medians shown. Baseline for "before": ${baselineRev}.\n`,
    );
    log(
      '| database | variant | wall (median) | ÷ raw (same connection) | dump | process CPU (median) | CPU per GB of database | peak RSS (max) | machine CPU (median) | walls |',
    );
    log('|---|---|---:|---:|---:|---:|---:|---:|---:|---|');
    for (const { sizeMb, only } of sizes) {
      const { target, dbBytes, generated } = await ensureBenchDatabase(admin, info.pg.bin, sizeMb);
      const variants = only ?? allVariants;
      if (generated) console.error(`generated ${target.database}: ${(dbBytes / 1e6).toFixed(0)} MB`);
      const res: Record<string, Sample[]> = {};
      const add = (k: string, s: Sample): void => {
        (res[k] ??= []).push(s);
      };
      const job = (s3: ChildJob['s3'], impl: ChildJob['impl']): ChildJob => ({ target, s3, impl });
      for (let i = 0; i < runs; i++) {
        // Rotate the order each run so no variant always follows the same one.
        const order = variants.map((_, j) => variants[(i + j) % variants.length] ?? '');
        for (const v of order) {
          const sample = await withMachineCpu(async () => {
            switch (v) {
              case 'raw':
                return timedCommand([...rawArgv, target.database], pgDumpEnv(target));
              case 'raw-pipe':
                return timedCommand(
                  ['sh', '-c', `${rawArgv.map(shellQuote).join(' ')} ${shellQuote(target.database)} | cat`],
                  pgDumpEnv(target),
                );
              case 'raw-tls':
                return timedCommand(
                  [...rawArgv, target.database],
                  pgDumpEnv(tlsTarget(target, info.pg.caFile)),
                );
              case 'discard':
                return streamedInChild(job({ ...info.s3, endpoint: sink.endpoint }, 'current'));
              case 'store':
                return streamedInChild(job(info.s3, 'current'));
              case 'discard-before':
                return streamedInChild(job({ ...info.s3, endpoint: sink.endpoint }, 'baseline'));
              case 'before':
                return streamedInChild(job(info.s3, 'baseline'));
              case 'cli':
                return cliBackup(info, target.database, 'current', cliEnv);
              case 'cli-warm':
                return cliBackup(info, target.database, 'warm', cliEnv);
              case 'cli-discard':
                return cliBackup(info, target.database, 'current', cliEnv, sink.endpoint);
              case 'cli-no-ahead':
                return cliBackup(info, target.database, 'current', {
                  ...cliEnv,
                  PGSHIFT_LOCAL_WARM_AHEAD: '0',
                });
              case 'cli-process':
                return cliBackup(info, target.database, 'current', {
                  ...cliEnv,
                  PGSHIFT_FUNCTION_ISOLATION: 'process',
                });
              default:
                throw new Error(`unknown variant ${v}`);
            }
          });
          add(v, sample);
        }
        console.error(
          `  ${target.database}: run ${i + 1}/${runs} done (load ${(loadavg()[0] ?? NaN).toFixed(2)})`,
        );
      }
      const rawPlain = res.raw ? median(res.raw.map((s) => s.ms)) : undefined;
      const rawTls = res['raw-tls'] ? median(res['raw-tls'].map((s) => s.ms)) : undefined;
      for (const v of variants) {
        const s = res[v] ?? [];
        const wall = median(s.map((x) => x.ms));
        // Like for like: what connects over TLS (the CLI always does, as to RDS) against pg_dump over TLS.
        const raw = overTls(v) ? rawTls : rawPlain;
        const cpus = s.flatMap((x) => (x.cpuMs === undefined ? [] : [x.cpuMs]));
        const cpu = cpus.length > 0 ? median(cpus) : undefined;
        const bytes = s.find((x) => x.bytes)?.bytes;
        log(
          `| ${(dbBytes / 1e6).toFixed(0)} MB | ${v} | ${fmt(wall / 1000)} s | ${raw ? fmt(wall / raw) : ''} | ` +
            `${bytes ? `${(bytes / 1e6).toFixed(0)} MB` : ''} | ${cpu !== undefined ? `${fmt(cpu / 1000)} s` : ''} | ` +
            `${cpu !== undefined ? `${fmt(cpu / 1000 / (dbBytes / 1e9))} s` : ''} | ` +
            `${rssColumn(s)} | ` +
            `${fmt(median(s.map((x) => x.machineCpuMs ?? NaN)) / 1000)} s | ` +
            `${s.map((x) => fmt(x.ms / 1000)).join(', ')} |`,
        );
      }
    }
    if (restoreSize !== undefined) await restoreComparison(info, admin, restoreSize, runs, log);
    if (compressionSize !== undefined) await compressionComparison(admin, info, compressionSize, log);
    log(
      `\nLoad average at the end: ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}.`,
    );
  } finally {
    sink.stop();
    rmSync(BASELINE_DIR, { recursive: true, force: true });
    await rig.stop();
  }
  const dir = join(ROOT, 'bench', 'results');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `backup-${started.toISOString().replace(/[:.]/g, '-')}.md`);
  writeFileSync(file, lines.join('\n') + '\n');
  console.error(`results written to ${file}`);
}

type RestoreVariant = 'file' | 'streamed' | 'jobs2';

/**
 * pg_restore of a local file vs pgshift's streamed restore from the S3 stand-in (same dump, one job each), and
 * the opt-in parallel restore (restoreJobs 2: download, then pg_restore --jobs=2).
 */
async function restoreComparison(
  info: RigInfo,
  admin: DatabaseTarget,
  sizeMb: number,
  runs: number,
  log: (s: string) => void,
): Promise<void> {
  const { target, dbBytes } = await ensureBenchDatabase(admin, info.pg.bin, sizeMb);
  const { streamDumpToS3 } = await import('../lambdas/backup/dump');
  const { pgRestoreFromStream } = await import('../lambdas/restore/stream');
  const { pgRestoreFromFile } = await import('../lambdas/restore/file');
  const store = storeFor(info.s3);
  const backup = await streamDumpToS3({ store, log: silentLogger }, { target, executionId: 'bench' });
  const file = join(tmpdir(), `pgshift-bench-restore-${process.pid}.dump`);
  const body = await getObjectStream(store, backup.key);
  await new Promise<void>((ok, fail) => {
    body.pipe(createWriteStream(file)).on('finish', ok).on('error', fail);
  });
  const res: Record<RestoreVariant, Sample[]> = { file: [], streamed: [], jobs2: [] };
  const order: RestoreVariant[] = ['file', 'streamed', 'jobs2'];
  try {
    for (let i = 0; i < runs; i++) {
      // Rotated each round, so no variant always runs first (or right after the same neighbour).
      for (const v of [...order.slice(i % 3), ...order.slice(0, i % 3)]) {
        const into = await freshEmpty(admin, `bench_restore_${v}`);
        const m0 = machineBusyMs();
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        if (v === 'file') {
          const r = spawnSync(
            pgToolPath('pg_restore'),
            [`--dbname=${into.database}`, '--no-owner', '--exit-on-error', '--no-password', file],
            { env: { ...process.env, ...libpqEnv(into) }, stdio: ['ignore', 'ignore', 'inherit'] },
          );
          if (r.status !== 0) throw new Error('pg_restore failed');
        } else if (v === 'streamed') {
          const r = await pgRestoreFromStream(await getObjectStream(store, backup.key), into);
          if (!r.ok) throw new Error(r.error);
        } else {
          // What a Fargate restore with restoreJobs 2 does: free space checked, download, pg_restore --jobs=2.
          const r = await pgRestoreFromFile(store, backup.manifest, into, { jobs: 2 });
          if (!r.ok) throw new Error(r.error);
        }
        const cpu = process.cpuUsage(c0);
        res[v].push({
          ms: performance.now() - t0,
          machineCpuMs: machineBusyMs() - m0,
          // pgshift's own process (the S3 stand-in runs elsewhere); 0 for the file variant (spawnSync's child).
          cpuMs: (cpu.user + cpu.system) / 1000,
        });
        await withClient(admin, (c) => c.query(`DROP DATABASE ${quoteIdent(into.database)}`));
      }
    }
  } finally {
    rmSync(file, { force: true });
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: backup.key }));
    await store.s3.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: backup.manifestKey }));
  }
  const base = median(res.file.map((s) => s.ms));
  log(
    `\n## Restore, ${(dbBytes / 1e6).toFixed(0)} MB database (${(backup.manifest.sizeBytes / 1e6).toFixed(0)} MB dump)\n`,
  );
  log('| variant | wall (median) | ÷ file | machine CPU (median) | pgshift process CPU (median) | walls |');
  log('|---|---:|---:|---:|---:|---|');
  for (const [v, label] of [
    ['file', '`pg_restore` from a local file, one job'],
    ['streamed', 'pgshift streamed restore from the S3 stand-in, one job'],
    ['jobs2', 'pgshift restoreJobs 2: download to local storage, then `pg_restore --jobs=2`'],
  ] as const) {
    const wall = median(res[v].map((s) => s.ms));
    const machine = median(res[v].map((s) => s.machineCpuMs ?? 0));
    const own = median(res[v].map((s) => s.cpuMs ?? 0));
    log(
      `| ${label} | ${fmt(wall / 1000)} s | ${fmt(wall / base)} | ${fmt(machine / 1000)} s | ${fmt(own / 1000)} s | ${res[v].map((s) => fmt(s.ms / 1000)).join(', ')} |`,
    );
  }
}

/**
 * Compression on this database, one run each: pg_dump's gzip levels, and zstd/lz4 estimated as pg_dump -Z0
 * piped into the zstd/lz4 tools (this machine's pg_dump is 15, which has neither built in).
 */
async function compressionComparison(
  admin: DatabaseTarget,
  info: RigInfo,
  sizeMb: number,
  log: (s: string) => void,
): Promise<void> {
  const { target } = await ensureBenchDatabase(admin, info.pg.bin, sizeMb);
  const env = { ...process.env, ...libpqEnv(target) };
  const dump = `${pgToolPath('pg_dump')} --format=custom --no-password`;
  const cases: [string, string][] = [
    ['gzip:0 (none)', `${dump} --compress=0 ${target.database}`],
    ['gzip:1', `${dump} --compress=1 ${target.database}`],
    ['gzip:6 (pg_dump default)', `${dump} --compress=6 ${target.database}`],
    ['zstd:1 (-Z0 piped into zstd -1, estimate)', `${dump} --compress=0 ${target.database} | zstd -1 -q -c`],
    ['zstd:3 (-Z0 piped into zstd -3, estimate)', `${dump} --compress=0 ${target.database} | zstd -3 -q -c`],
    ['lz4:1 (-Z0 piped into lz4 -1, estimate)', `${dump} --compress=0 ${target.database} | lz4 -1 -q -c`],
  ];
  log(`\n## Compression, database bench_${sizeMb}, one run each\n`);
  log('| method | wall | ÷ gzip:1 | CPU (pg_dump + compressor) | output |');
  log('|---|---:|---:|---:|---:|');
  const out = join(tmpdir(), `pgshift-bench-compress-${process.pid}`);
  let gzip1: number | undefined;
  try {
    for (const [label, cmd] of cases) {
      const s = await timedCommand(['sh', '-c', cmd], env, out);
      const size = readFileSync(out).length;
      if (label === 'gzip:1') gzip1 = s.ms;
      log(
        `| ${label} | ${fmt(s.ms / 1000)} s | ${gzip1 ? fmt(s.ms / gzip1) : ''} | ${fmt((s.cpuMs ?? NaN) / 1000)} s | ${(size / 1e6).toFixed(0)} MB |`,
      );
    }
  } finally {
    rmSync(out, { force: true });
  }
}

const childIdx = process.argv.indexOf('--child');
if (childIdx >= 0) {
  childRun(JSON.parse(process.argv[childIdx + 1] ?? '{}') as ChildJob).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
