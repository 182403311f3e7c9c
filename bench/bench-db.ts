/**
 * The benchmark databases: generated once and kept in a persistent rig cluster
 * ($PGSHIFT_CACHE_DIR/bench-pg, or BENCH_PG_DIR), because a 1 GB database takes minutes to generate and the
 * runs that are compared must read the same data.
 */
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  databaseSizeBytes,
  libpqEnv,
  queryOneRow,
  quoteIdent,
  withClient,
  type DatabaseTarget,
} from '../lambdas/shared/db';

/** Where the kept cluster lives; set as PGSHIFT_RIG_PG_DIR before the rig is spawned. */
export function benchClusterDir(): string {
  return process.env.BENCH_PG_DIR ?? join(process.env.PGSHIFT_CACHE_DIR ?? tmpdir(), 'bench-pg');
}

/**
 * `bench_<sizeMb>`: pgbench tables (three quarters) plus a wide table of random hex text and jsonb (one
 * quarter, about 2:1 compressible), generated server-side unless a complete one is already there.
 */
export async function ensureBenchDatabase(
  admin: DatabaseTarget,
  pgBin: string,
  sizeMb: number,
): Promise<{ target: DatabaseTarget; dbBytes: number; generated: boolean }> {
  const name = `bench_${sizeMb}`;
  const target = { ...admin, database: name };
  const complete = await withClient(admin, async (c) => {
    const exists = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount === 0) return false;
    return withClient(target, async (d) => {
      const r = await queryOneRow<{ ok: boolean }>(
        d,
        "SELECT to_regclass('public.bench_complete') IS NOT NULL AS ok",
      );
      return r.ok;
    });
  });
  if (!complete) {
    // pgbench scale 1 is ~15 MB on disk.
    const scale = Math.max(1, Math.round((sizeMb * 0.75) / 15));
    await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`));
    await withClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(name)}`));
    const r = spawnSync(join(pgBin, 'pgbench'), ['-i', '-q', '-s', String(scale)], {
      env: libpqEnv(target),
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (r.status !== 0) throw new Error('pgbench -i failed');
    const rows = Math.round((sizeMb * 0.25 * 1024 * 1024) / 1100);
    await withClient(target, async (c) => {
      await c.query('CREATE TABLE wide (id bigint PRIMARY KEY, body text, doc jsonb)');
      // The subquery refers to g so that it runs per row: uncorrelated, PostgreSQL would compute it once and
      // every row would be the same text (which compresses 30:1 and flatters every compressor).
      await c.query(
        `INSERT INTO wide SELECT g, (SELECT string_agg(md5(random()::text || i || g), ' ') FROM generate_series(1, 24) i),
                jsonb_build_object('n', g, 'tags', jsonb_build_array(md5(g::text), random()), 'note', md5(random()::text))
           FROM generate_series(1, $1) g`,
        [rows],
      );
      await c.query('VACUUM ANALYZE');
      await c.query('CREATE TABLE bench_complete ()');
    });
  }
  const dbBytes = await withClient(target, databaseSizeBytes);
  return { target, dbBytes, generated: !complete };
}
