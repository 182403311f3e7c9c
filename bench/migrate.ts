/**
 * Runner overhead: 200 small migrations applied by pgshift (lint with Squawk, advisory lock, history in the same
 * transaction, per-statement execution) vs the same files run by `psql -1 -f` one after another; and one migration
 * on a 1M-row table (index build) both ways. `npm run bench:migrate` (env BENCH_RUNS, default 3).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { applyMigrations, loadMigrations } from '../lambdas/migrate';
import { libpqEnv, quoteIdent, targetFromUrl, withClient, type DatabaseTarget } from '../lambdas/shared/db';
import { pgToolPath } from '../lambdas/shared/pgtools';
import { spawnRig } from '../test/rig/spawn-rig.mjs';
import { present } from '../test/helpers/present';

const run = promisify(execFile);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const SMALL = 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return present(s[Math.floor(s.length / 2)], 'a sample');
}

async function freshDb(base: DatabaseTarget, name: string): Promise<DatabaseTarget> {
  await withClient(base, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
    await c.query(`CREATE DATABASE ${quoteIdent(name)}`);
  });
  return { ...base, database: name };
}

async function psqlFiles(target: DatabaseTarget, dir: string, files: string[]): Promise<number> {
  const t0 = performance.now();
  for (const f of files) {
    await run(pgToolPath('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-1', '-f', join(dir, f)], {
      env: libpqEnv(target),
    });
  }
  return performance.now() - t0;
}

async function pgshiftApply(target: DatabaseTarget, dir: string, allowUnsafe = false): Promise<number> {
  const migrations = await loadMigrations(dir);
  const t0 = performance.now();
  await withClient(target, (c) => applyMigrations(c, migrations, { executionId: 'bench', allowUnsafe }));
  return performance.now() - t0;
}

async function main(): Promise<void> {
  if (!process.env.PGSHIFT_PG_BIN && existsSync('/usr/lib/postgresql/15/bin/psql'))
    process.env.PGSHIFT_PG_BIN = '/usr/lib/postgresql/15/bin';
  const rig = await spawnRig();
  const base = targetFromUrl(rig.info.databaseUrl);
  const work = await mkdtemp(join(tmpdir(), 'pgshift-bench-mig-'));
  try {
    const smallDir = join(work, 'small');
    const files: string[] = [];
    await run('mkdir', ['-p', smallDir]);
    for (let i = 1; i <= SMALL; i++) {
      const f = `${String(i).padStart(4, '0')}_t${i}.up.sql`;
      files.push(f);
      await writeFile(
        join(smallDir, f),
        `CREATE TABLE t${i} (id bigint PRIMARY KEY, note text);\nCOMMENT ON TABLE t${i} IS 'bench ${i}';\n`,
      );
    }
    const bigDir = join(work, 'big');
    await run('mkdir', ['-p', bigDir]);
    await writeFile(
      join(bigDir, '0001_index_big.up.sql'),
      '-- pgshift:statement-timeout 30min\nCREATE INDEX big_v_idx ON big (v);\n',
    );

    const small = { psql: [] as number[], pgshift: [] as number[] };
    const big = { psql: [] as number[], pgshift: [] as number[] };
    for (let r = 0; r < RUNS; r++) {
      small.psql.push(await psqlFiles(await freshDb(base, 'bench_psql'), smallDir, files));
      small.pgshift.push(await pgshiftApply(await freshDb(base, 'bench_pgshift'), smallDir));
      for (const who of ['psql', 'pgshift'] as const) {
        const t = await freshDb(base, `bench_big_${who}`);
        await withClient(t, (c) =>
          c.query(
            'CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 1000000) g; ANALYZE big',
          ),
        );
        // The index build is an error-level finding on a 1M-row table: the benchmark says allowUnsafe.
        big[who].push(
          who === 'psql'
            ? await psqlFiles(t, bigDir, ['0001_index_big.up.sql'])
            : await pgshiftApply(t, bigDir, true),
        );
      }
    }
    const s = { psql: median(small.psql), pgshift: median(small.pgshift) };
    const b = { psql: median(big.psql), pgshift: median(big.pgshift) };
    const lines = [
      `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GB; date ${new Date().toISOString().slice(0, 10)}; runs ${RUNS} (medians)`,
      `| case | psql -1 -f (ms) | pgshift apply (ms) | ratio | overhead per migration (ms) |`,
      `|---|---:|---:|---:|---:|`,
      `| ${SMALL} small migrations | ${s.psql.toFixed(0)} | ${s.pgshift.toFixed(0)} | ${(s.pgshift / s.psql).toFixed(2)} | ${((s.pgshift - s.psql) / SMALL).toFixed(1)} |`,
      `| 1 index build on a 1M-row table | ${b.psql.toFixed(0)} | ${b.pgshift.toFixed(0)} | ${(b.pgshift / b.psql).toFixed(2)} | ${(b.pgshift - b.psql).toFixed(0)} |`,
    ];
    console.log(lines.join('\n'));
  } finally {
    await rm(work, { recursive: true, force: true });
    await rig.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
