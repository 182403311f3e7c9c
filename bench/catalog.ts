/**
 * The report step and pre-flight on a large catalog (issue 18: under 5 s each): about 10,200 tables, 30,600
 * indexes, 30,600 constraints and 500 views, generated once into a throwaway cluster kept under the bench cache
 * ($PGSHIFT_CACHE_DIR/bench-catalog-pg, or BENCH_CATALOG_PG_DIR) and reused by later runs.
 * `npm run bench:catalog` (env BENCH_RUNS, default 3; BENCH_CATALOG_TABLES, default 10200; BENCH_BASELINE_REV,
 * default 215543a: the report step as that revision built it, measured alternately in the same run). Medians.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClientBase } from 'pg';
import { buildReport } from '../lambdas/report/build';
import type { Log } from '../lambdas/shared/logger';
import { runPreflight } from '../lambdas/preflight/run-preflight';
import { connect, quoteIdent, targetFromUrl, withClient, type DatabaseTarget } from '../lambdas/shared/db';
import { captureLogger } from '../lambdas/shared/logger';
import { migrationAnalysis } from '../test/helpers/migration-analysis';
import type { RigInfo } from '../test/rig/servers.d.mts';

const DB = 'bench_catalog';
const ROOT = join(__dirname, '..');
const BASELINE_DIR = join(ROOT, '.pgshift-local', 'bench-catalog-baseline');

type ReportStep = (client: ClientBase, log: Log) => Promise<unknown>;

function isReportModule(m: unknown): m is { buildReport: typeof buildReport } {
  return typeof m === 'object' && m !== null && 'buildReport' in m && typeof m.buildReport === 'function';
}

/** The baseline's report core (build.ts and the sizes SQL it used), against today's shared code. */
async function baselineReport(rev: string): Promise<ReportStep> {
  rmSync(BASELINE_DIR, { recursive: true, force: true });
  for (const [file, dir] of [
    ['lambdas/report/build.ts', 'report'],
    ['lambdas/schema/sizes.ts', 'schema'],
  ] as const) {
    const text = execFileSync('git', ['show', `${rev}:${file}`], { cwd: ROOT, encoding: 'utf8' })
      .replace(/from '\.\.\/shared\//g, "from '../../../lambdas/shared/")
      .replace(/from '\.\.\/schema'/g, "from '../../../lambdas/schema'")
      .replace(/from '\.\/run'/g, "from '../../../lambdas/report/run'");
    mkdirSync(join(BASELINE_DIR, dir), { recursive: true });
    writeFileSync(join(BASELINE_DIR, dir, file.split('/').pop() ?? file), text);
  }
  const baseline: unknown = await import(join(BASELINE_DIR, 'report', 'build.ts'));
  if (!isReportModule(baseline)) throw new Error(`${rev}'s report/build.ts exports no buildReport`);
  return (client, log) => baseline.buildReport({ client, log }, { database: DB });
}
const BATCH = 300;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const mid = s[m] ?? 0;
  return s.length % 2 ? mid : ((s[m - 1] ?? mid) + mid) / 2;
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

/** One batch of tables: each has a primary key, a foreign key, a check and two more indexes. */
function batchSql(start: number, end: number): string {
  const stmts: string[] = [];
  for (let i = start; i < end; i++) {
    stmts.push(
      `CREATE TABLE t${i} (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id),
         code varchar(40) NOT NULL CHECK (code <> ''), amount numeric(12,2) DEFAULT 0, body text,
         created timestamptz NOT NULL DEFAULT now());
       CREATE INDEX t${i}_code ON t${i} (code); CREATE INDEX t${i}_created ON t${i} (created);`,
    );
    if (i % 20 === 0) stmts.push(`CREATE VIEW v${i} AS SELECT id, code FROM t${i} WHERE amount > 0;`);
  }
  return stmts.join('\n');
}

/** Generates the catalog unless a complete one is there (marked by the table `bench_complete`). */
async function ensureCatalog(admin: DatabaseTarget, tables: number): Promise<DatabaseTarget> {
  const target = { ...admin, database: DB };
  const complete = await withClient(admin, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [DB]);
    if (exists.rowCount === 0) return false;
    return withClient(target, async (d) => {
      const r = await d.query<{ ok: boolean }>(
        "SELECT to_regclass('public.bench_complete') IS NOT NULL AS ok",
      );
      return r.rows[0]?.ok === true;
    });
  });
  if (complete) return target;
  await withClient(admin, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(DB)}`);
    await c.query(`CREATE DATABASE ${quoteIdent(DB)}`);
  });
  const ms = await timeMs(() =>
    withClient(target, async (c) => {
      await c.query('CREATE TABLE parent (id bigint PRIMARY KEY, name text)');
      await c.query("INSERT INTO parent SELECT g, 'p' || g FROM generate_series(1, 1000) g");
      for (let start = 0; start < tables; start += BATCH) {
        await c.query(batchSql(start, Math.min(start + BATCH, tables)));
      }
      // A few tables with rows (some TOASTed), so sizes and exact counts have something to read.
      for (let i = 0; i < Math.min(tables, 50); i++) {
        await c.query(
          `INSERT INTO t${i} (id, parent_id, code, body)
           SELECT g, 1 + g % 1000, 'c' || g, repeat(md5(g::text), 1 + (g % 200)) FROM generate_series(1, 2000) g`,
        );
      }
      await c.query('VACUUM ANALYZE');
      await c.query('CREATE TABLE bench_complete ()');
    }),
  );
  console.error(`generated ${tables} tables in ${(ms / 1000).toFixed(1)} s`);
  return target;
}

async function catalogCounts(target: DatabaseTarget): Promise<Record<string, number>> {
  return withClient(target, async (c) => {
    const r = await c.query<{ tables: string; indexes: string; constraints: string; views: string }>(
      `SELECT (SELECT count(*) FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace) AS tables,
              (SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relnamespace = 'public'::regnamespace) AS indexes,
              (SELECT count(*) FROM pg_constraint WHERE connamespace = 'public'::regnamespace) AS constraints,
              (SELECT count(*) FROM pg_class WHERE relkind = 'v' AND relnamespace = 'public'::regnamespace) AS views`,
    );
    const row = r.rows[0];
    return {
      tables: Number(row?.tables),
      indexes: Number(row?.indexes),
      constraints: Number(row?.constraints),
      views: Number(row?.views),
    };
  });
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const tables = Number(process.env.BENCH_CATALOG_TABLES ?? 10200);
  process.env.PGSHIFT_RIG_PG_DIR =
    process.env.BENCH_CATALOG_PG_DIR ?? join(process.env.PGSHIFT_CACHE_DIR ?? tmpdir(), 'bench-catalog-pg');
  const { spawnRig } = await import('../test/rig/spawn-rig.mjs');
  const rig = await spawnRig();
  const info: RigInfo = rig.info;
  process.env.PGSHIFT_PG_BIN ??= info.pg.bin;
  try {
    const target = await ensureCatalog(targetFromUrl(info.databaseUrl), tables);
    const counts = await catalogCounts(target);
    const log = captureLogger();
    const analyses = [migrationAnalysis([{ table: 't1', rewrite: true }, { table: 't2' }])];
    const rev = process.env.BENCH_BASELINE_REV ?? '215543a';
    const before = await baselineReport(rev);
    const beforeMs: number[] = [];
    const reportMs: number[] = [];
    const preflightMs: number[] = [];
    const load = [loadavg()[0] ?? 0];
    for (let i = 0; i < runs; i++) {
      beforeMs.push(
        await timeMs(() => withClient(target, (client) => before(client, log), 'pgshift-report')),
      );
      reportMs.push(
        await timeMs(() =>
          withClient(target, (client) => buildReport({ client, log }, { database: DB }), 'pgshift-report'),
        ),
      );
      preflightMs.push(
        await timeMs(() =>
          runPreflight(
            { connect: () => connect(target, 'pgshift-preflight'), log },
            { analyses, executionId: `bench-${i}` },
          ),
        ),
      );
      load.push(loadavg()[0] ?? 0);
    }
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    console.log(`catalog: ${JSON.stringify(counts)}`);
    console.log(`date: ${new Date().toISOString()}; 1-min load ${load.map((l) => l.toFixed(2)).join(' → ')}`);
    console.log(`report step at ${rev}: median ${s(median(beforeMs))} of [${beforeMs.map(s).join(', ')}]`);
    console.log(
      `report step (buildReport): median ${s(median(reportMs))} of [${reportMs.map(s).join(', ')}]`,
    );
    console.log(
      `pre-flight (runPreflight): median ${s(median(preflightMs))} of [${preflightMs.map(s).join(', ')}]`,
    );
  } finally {
    await rig.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
