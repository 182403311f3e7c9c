/**
 * What tests use of the shared rig (started once per run by global-setup.mjs): a fresh database per test,
 * seeded rows, the object store, objects fetched back and hashed, alerts read back from the SNS stand-in.
 */
import { createHash, randomBytes } from 'node:crypto';
import { ReceiveMessageCommand, SQSClient, DeleteMessageCommand } from '@aws-sdk/client-sqs';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Client } from 'pg';
import {
  connect,
  queryOneRow,
  quoteIdent,
  targetFromUrl,
  withClient,
  type DatabaseTarget,
} from '../../lambdas/shared/db';
import { createS3Client, getObjectStream, type ObjectStore } from '../../lambdas/shared/s3';
import type { RigInfo } from './servers.d.mts';

export type { RigInfo };

/** The running rig's description; throws when a test runs outside the integration/workflow projects. */
export function rigInfo(): RigInfo {
  const raw = process.env.PGSHIFT_RIG;
  if (!raw)
    throw new Error('PGSHIFT_RIG is not set: run this test in the integration or workflow jest project');
  return JSON.parse(raw) as RigInfo;
}

/** A target on the rig's server; `database` defaults to the maintenance database. */
export function rigTarget(database = 'postgres'): DatabaseTarget {
  const info = rigInfo();
  return { ...targetFromUrl(info.databaseUrl), database };
}

/** The same target over TLS with full verification against the rig's CA (as pgshift talks to RDS). */
export function rigTlsTarget(database = 'postgres'): DatabaseTarget {
  const info = rigInfo();
  if (!info.pg.caFile) throw new Error('the rig runs without TLS (openssl missing)');
  return { ...rigTarget(database), host: 'localhost', sslMode: 'verify-full', sslRootCert: info.pg.caFile };
}

export function rigUrl(database: string): string {
  const info = rigInfo();
  return `postgres://${info.pg.user}:${encodeURIComponent(info.pg.password)}@${info.pg.host}:${info.pg.port}/${encodeURIComponent(database)}`;
}

export interface TestDatabase {
  name: string;
  target: DatabaseTarget;
  url: string;
  /** A connected client (closed by drop()). */
  client: () => Promise<Client>;
  drop: () => Promise<void>;
}

/** Creates a database from the rig's template (fast) with a unique name; `drop()` removes it. */
export async function freshDatabase(prefix = 't'): Promise<TestDatabase> {
  const info = rigInfo();
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  await withClient(rigTarget(), (c) =>
    c.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(info.pg.templateDatabase)}`),
  );
  const clients: Client[] = [];
  return {
    name,
    target: rigTarget(name),
    url: rigUrl(name),
    client: async () => {
      const c = await connect(rigTarget(name), 'pgshift-test');
      clients.push(c);
      return c;
    },
    drop: async () => {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
      await dropDatabase(name);
    },
  };
}

/** Drops a database, terminating whatever still uses it. */
export async function dropDatabase(name: string): Promise<void> {
  await withClient(rigTarget(), async (c) => {
    await c.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
      [name],
    );
    await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)}`);
  });
}

/**
 * Seeds `rows` rows into `table` (created if missing): an id, a text of `textBytes` random characters and a
 * jsonb document, generated server-side so large seeds cost no client memory.
 */
export async function seedRows(
  target: DatabaseTarget,
  rows: number,
  options: { table?: string; textBytes?: number } = {},
): Promise<void> {
  const table = options.table ?? 'items';
  const textBytes = options.textBytes ?? 64;
  await withClient(target, async (c) => {
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (id bigint PRIMARY KEY, body text NOT NULL, doc jsonb NOT NULL)`,
    );
    await c.query(
      `INSERT INTO ${quoteIdent(table)} (id, body, doc)
       SELECT g, substr(repeat(md5(g::text || random()::text), ceil($2::int / 32.0)::int), 1, $2::int),
              jsonb_build_object('n', g, 'tag', md5(g::text))
       FROM generate_series(COALESCE((SELECT max(id) FROM ${quoteIdent(table)}), 0) + 1,
                            COALESCE((SELECT max(id) FROM ${quoteIdent(table)}), 0) + $1) AS g`,
      [rows, textBytes],
    );
  });
}

/** An md5 over every row of a table in primary-key order: equal checksums mean equal data. */
export async function tableChecksum(
  target: DatabaseTarget,
  table: string,
): Promise<{ rows: number; md5: string }> {
  return withClient(target, async (c) => {
    const row = await queryOneRow<{ rows: string; md5: string | null }>(
      c,
      `SELECT count(*) AS rows, md5(string_agg(t::text, '|' ORDER BY t::text)) AS md5 FROM ${quoteIdent(table)} t`,
    );
    return { rows: Number(row.rows), md5: row.md5 ?? '' };
  });
}

/** The rig's bucket as an ObjectStore (with a KMS key id, as pgshift always sends one on AWS). */
export function rigStore(kmsKeyId = 'arn:aws:kms:us-east-1:000000000000:key/rig-test-key'): ObjectStore {
  const info = rigInfo();
  return {
    s3: createS3Client({ endpoint: info.s3.endpoint, region: info.s3.region }),
    bucket: info.s3.bucket,
    kmsKeyId,
  };
}

/** Downloads an object and hashes it. */
export async function fetchObject(
  store: ObjectStore,
  key: string,
): Promise<{ bytes: Buffer; sha256: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of await getObjectStream(store, key)) chunks.push(chunk as Buffer);
  const bytes = Buffer.concat(chunks);
  return { bytes, sha256: sha256(bytes) };
}

export function sha256(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function rigSnsClient(): SNSClient {
  const info = rigInfo();
  return new SNSClient({ endpoint: info.sns.endpoint, region: info.s3.region });
}

/** An SNS envelope as delivered to an SQS subscription (what an email/Chatbot subscriber would get). */
export interface DeliveredAlert {
  Subject?: string;
  Message: string;
  MessageAttributes?: Record<string, { Type: string; Value: string }>;
  TopicArn: string;
}

/**
 * Reads (and deletes) alerts published to the rig's topic. Tests running in parallel share the topic, so
 * filter with `match` and keep the others for their owners (they become visible again).
 */
export async function readAlerts(
  match: (alert: DeliveredAlert) => boolean = () => true,
  { waitSeconds = 2 } = {},
): Promise<DeliveredAlert[]> {
  const info = rigInfo();
  const sqs = new SQSClient({ endpoint: info.sns.endpoint, region: info.s3.region });
  const found: DeliveredAlert[] = [];
  const deadline = Date.now() + waitSeconds * 1000;
  while (Date.now() < deadline && found.length === 0) {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: info.sns.spyQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        VisibilityTimeout: 0,
      }),
    );
    for (const m of res.Messages ?? []) {
      const alert = JSON.parse(m.Body ?? '{}') as DeliveredAlert;
      if (match(alert)) {
        found.push(alert);
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: info.sns.spyQueueUrl, ReceiptHandle: m.ReceiptHandle }),
        );
      }
    }
  }
  return found;
}

/** The environment the CDK stack gives a step's function, pointed at the rig (DATABASE_URL instead of the secret). */
export function rigStepEnv(databaseUrl?: string): Record<string, string> {
  const info = rigInfo();
  return {
    PGSHIFT_BUCKET: info.s3.bucket,
    PGSHIFT_KMS_KEY_ID: 'arn:aws:kms:us-east-1:000000000000:key/handler-test',
    AWS_ENDPOINT_URL_S3: info.s3.endpoint,
    POWERTOOLS_LOG_LEVEL: 'CRITICAL',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  };
}

/**
 * Loads step handlers as Lambda would: with `env` applied first (they read it at module scope) and in a fresh
 * module registry, so each test's configuration is the one they see. Errors from such handlers are instances
 * of that registry's classes: match them by `name`, as Step Functions does.
 */
export function loadStepHandlers<H, S extends string = string>(
  steps: readonly S[],
  env: Record<string, string>,
): Record<S, H> {
  delete process.env.PGSHIFT_DB_SECRET_ARN;
  Object.assign(process.env, env);
  const handlers = {} as Record<S, H>;
  jest.isolateModules(() => {
    for (const step of steps)
      handlers[step] = (require(`../../lambdas/${step}/handler`) as { handler: H }).handler;
  });
  return handlers;
}
