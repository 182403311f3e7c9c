/**
 * Schema snapshot and diff on a generated schema of 5,000 tables (each with a PK, 2 indexes and an FK) plus
 * views and functions, against `pg_dump --schema-only` on the same database in the same run.
 * `npm run bench:schema` (env BENCH_RUNS, default 3; BENCH_TABLES, default 5000). Spawns its own rig.
 */
import { arch, cpus, totalmem } from 'node:os';
import { diffSnapshots, dumpSchemaSql, serializeSnapshot, snapshotSchema } from '../lambdas/schema';
import { quoteIdent, targetFromUrl, withClient } from '../lambdas/shared/db';
import { present } from '../test/helpers/present';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  const mid = present(s[m], 'a sample');
  return s.length % 2 ? mid : (present(s[m - 1], 'a sample') + mid) / 2;
}

async function time<T>(fn: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function main(): Promise<void> {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const tables = Number(process.env.BENCH_TABLES ?? 5000);
  const { spawnRig } = await import('../test/rig/spawn-rig.mjs');
  const rig = await spawnRig();
  const { info } = rig;
  process.env.PGSHIFT_PG_BIN ??= info.pg.bin;
  const admin = targetFromUrl(info.databaseUrl);
  const dbName = 'bench_schema';
  const target = { ...admin, database: dbName };
  try {
    await withClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(dbName)}`));
    const gen = await time(() =>
      withClient(target, async (c) => {
        await c.query(`CREATE TABLE parent (id bigint PRIMARY KEY, name text)`);
        // Batches of 500 tables per statement keep each transaction's lock table small.
        for (let start = 0; start < tables; start += 500) {
          const stmts: string[] = [];
          for (let i = start; i < Math.min(start + 500, tables); i++) {
            stmts.push(
              `CREATE TABLE t${i} (id bigint PRIMARY KEY, parent_id bigint NOT NULL REFERENCES parent (id),
                 code varchar(40) NOT NULL, amount numeric(12,2) DEFAULT 0, created timestamptz NOT NULL DEFAULT now());
               CREATE INDEX t${i}_code ON t${i} (code); CREATE INDEX t${i}_created ON t${i} (created) WHERE amount > 0;`,
            );
            if (i % 10 === 0) {
              stmts.push(`CREATE VIEW v${i} AS SELECT id, code FROM t${i} WHERE amount > 0;
                CREATE FUNCTION f${i}(x bigint) RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM t${i} WHERE id > x';`);
            }
          }
          await c.query(stmts.join('\n'));
        }
        await c.query('ANALYZE');
      }),
    );
    console.error(`generated ${tables} tables in ${(gen.ms / 1000).toFixed(1)} s`);

    const snapMs: number[] = [];
    const snapNoStatsMs: number[] = [];
    const dumpMs: number[] = [];
    const diffMs: number[] = [];
    let snapshotBytes = 0;
    let dumpBytes = 0;
    for (let r = 0; r < runs; r++) {
      const dump = await time(() => dumpSchemaSql(target));
      dumpMs.push(dump.ms);
      dumpBytes = Buffer.byteLength(dump.value);
      // Like for like with pg_dump --schema-only, which computes no sizes.
      const bare = await time(() => withClient(target, (c) => snapshotSchema(c)));
      snapNoStatsMs.push(bare.ms);
      const snap = await time(() => withClient(target, (c) => snapshotSchema(c, { includeStats: true })));
      snapMs.push(snap.ms);
      snapshotBytes = Buffer.byteLength(serializeSnapshot(snap.value));
      // A second snapshot after a few changes, so the diff has something to find.
      await withClient(target, (c) =>
        c.query(
          `ALTER TABLE t1 ADD COLUMN extra${r} int; DROP INDEX IF EXISTS t2_code; ALTER TABLE t3 ALTER COLUMN code TYPE varchar(20)`,
        ),
      );
      const after = await withClient(target, (c) => snapshotSchema(c, { includeStats: true }));
      const diff = await time(() => diffSnapshots(snap.value, after));
      diffMs.push(diff.ms);
      console.error(
        `run ${r + 1}: pg_dump --schema-only ${dump.ms.toFixed(0)} ms, snapshot ${bare.ms.toFixed(0)} ms, with stats ${snap.ms.toFixed(0)} ms, diff ${diff.ms.toFixed(0)} ms (${diff.value.counts.total} changes)`,
      );
    }
    const result = {
      date: new Date().toISOString(),
      machine: `${cpus().length} × ${cpus()[0]?.model ?? arch()}, ${Math.round(totalmem() / 2 ** 30)} GB`,
      tables,
      runs,
      pgDumpSchemaOnlyMs: Math.round(median(dumpMs)),
      snapshotMs: Math.round(median(snapNoStatsMs)),
      snapshotVsPgDump: Number((median(snapNoStatsMs) / median(dumpMs)).toFixed(2)),
      snapshotWithStatsMs: Math.round(median(snapMs)),
      snapshotWithStatsVsPgDump: Number((median(snapMs) / median(dumpMs)).toFixed(2)),
      diffMs: Math.round(median(diffMs)),
      snapshotBytes,
      dumpBytes,
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(dbName)}`)).catch(
      () => undefined,
    );
    await rig.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
