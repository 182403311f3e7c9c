/**
 * `npm start`: the whole pgshift job on this machine, with no AWS account. Starts the same throwaway
 * PostgreSQL and S3/SNS stand-in the tests use, creates a demo database with data, runs `pgshift local
 * migrate` with the example migrations (the synthesized state machine, executed locally), copies the report
 * out of the bucket and shuts everything down.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Client } from 'pg';
import { getText } from '../lambdas/shared/s3';
import { createS3Client } from '../lambdas/shared/s3';
import { main } from './cli/main';
import { processIo, type Io } from './cli/output';
import { humanSummary } from './cli/render';
import type { StepResults } from '../lambdas/shared/step';

/** The `--json` document of `pgshift local` (bin/cli/render.ts runDocument). */
interface RunDocument {
  ok: boolean;
  executionId: string;
  durationMs: number;
  error?: { name: string; message: string };
  written: Record<string, string>;
  results: StepResults;
}

const OUTPUT_DIR = path.resolve(process.env.PGSHIFT_DEMO_DIR ?? 'pgshift-demo');
const DEMO_DB = 'demo';

/** A legacy table with enough rows that the backup, sizes and row counts in the report mean something. */
const SEED_SQL = `
CREATE TABLE public.events (
  id bigserial PRIMARY KEY,
  happened_at timestamptz NOT NULL DEFAULT now(),
  kind text NOT NULL,
  payload jsonb NOT NULL
);
INSERT INTO public.events (happened_at, kind, payload)
SELECT now() - (g || ' minutes')::interval,
       (ARRAY['signup','login','purchase','refund'])[1 + g % 4],
       jsonb_build_object('n', g, 'note', md5(g::text))
FROM generate_series(1, 50000) AS g;
ANALYZE public.events;
`;

type Rig = { info: import('../test/rig/servers.d.mts').RigInfo; stop: () => Promise<void> };

async function startRig(io: Io): Promise<Rig> {
  io.err('starting a throwaway PostgreSQL and a local S3/SNS server…');
  const { spawnRig } =
    (await import('../test/rig/spawn-rig.mjs')) as typeof import('../test/rig/spawn-rig.mjs');
  return spawnRig();
}

function databaseUrl(rig: Rig, database: string): string {
  const { pg } = rig.info;
  // TLS with full verification, as pgshift talks to RDS (the rig's CA names "localhost").
  const tls = pg.caFile
    ? `localhost:${pg.port}/${database}?sslmode=verify-full&sslrootcert=${encodeURIComponent(pg.caFile)}`
    : `${pg.host}:${pg.port}/${database}?sslmode=disable`;
  return `postgres://${encodeURIComponent(pg.user)}:${encodeURIComponent(pg.password)}@${tls}`;
}

async function createDemoDatabase(rig: Rig): Promise<void> {
  const admin = new Client({ connectionString: databaseUrl(rig, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${DEMO_DB} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${DEMO_DB}`);
  } finally {
    await admin.end();
  }
  const db = new Client({ connectionString: databaseUrl(rig, DEMO_DB) });
  await db.connect();
  try {
    await db.query(SEED_SQL);
  } finally {
    await db.end();
  }
}

/** Copies report.{html,md,json} out of the bucket, which disappears with the rig. */
async function saveReport(rig: Rig, written: Record<string, string>): Promise<string[]> {
  const store = { s3: createS3Client({ endpoint: rig.info.s3.endpoint }), bucket: rig.info.s3.bucket };
  await mkdir(OUTPUT_DIR, { recursive: true });
  const saved: string[] = [];
  for (const [what, key] of Object.entries(written)) {
    if (!what.startsWith('report.') && !what.startsWith('diff.') && !what.startsWith('plan.')) continue;
    const file = path.join(OUTPUT_DIR, path.basename(key));
    await writeFile(file, await getText(store, key));
    saved.push(file);
  }
  return saved;
}

export async function demo(io: Io = processIo): Promise<number> {
  const started = Date.now();
  const rig = await startRig(io);
  try {
    await createDemoDatabase(rig);
    io.err(`demo database "${DEMO_DB}" created with 50,000 rows in public.events`);
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID ?? 'pgshift-local',
      AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY ?? 'pgshift-local',
      AWS_REGION: rig.info.s3.region,
      PGSHIFT_PG_BIN: rig.info.pg.bin,
    });
    let document: RunDocument | undefined;
    const capture: Io = {
      ...io,
      progress: true,
      out: (text) => (document = JSON.parse(text) as RunDocument),
    };
    const code = await main(
      [
        'local',
        'migrate',
        '--database-url',
        databaseUrl(rig, DEMO_DB),
        '--bucket',
        rig.info.s3.bucket,
        '--s3-endpoint',
        rig.info.s3.endpoint,
        '--sns-endpoint',
        rig.info.sns.endpoint,
        '--topic-arn',
        rig.info.sns.topicArn,
        '--migrations',
        path.resolve(__dirname, '..', 'examples', 'migrations'),
        '--json',
      ],
      capture,
    );
    if (!document) return code;
    const saved = await saveReport(rig, document.written);
    io.out(
      humanSummary('migrate', {
        ok: document.ok,
        status: document.ok ? 'SUCCEEDED' : 'FAILED',
        startDate: 0,
        stopDate: document.durationMs,
        executionId: document.executionId,
        durationMs: document.durationMs,
        error: document.error,
        visited: [],
        stateSizes: {},
        state: {
          input: { action: 'migrate', database: DEMO_DB },
          execution: { id: document.executionId },
          results: document.results,
        },
      }),
    );
    const html = saved.find((f) => f.endsWith('.html'));
    io.out(
      [
        '',
        ...saved.map((f) => `  saved ${path.relative(process.cwd(), f)}`),
        html ? `Open the report in a browser: file://${html}` : 'no report was written',
        `(${((Date.now() - started) / 1000).toFixed(1)}s; the local servers are shut down now)`,
      ].join('\n'),
    );
    return code;
  } finally {
    await rig.stop();
  }
}

if (require.main === module) {
  demo().then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`pgshift demo: ${err.message}\n`);
      process.exit(1);
    },
  );
}
