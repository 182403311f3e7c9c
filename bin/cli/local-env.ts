import * as path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { targetFromUrl } from '../../lambdas/shared/db';
import { ConfigurationError, errorMessage } from '../../lambdas/shared/errors';
import { createS3Client } from '../../lambdas/shared/s3';
import { existsSync, readdirSync } from 'node:fs';
import type { SslMode } from '../../lambdas/shared/db';
import type { Flags } from './args';
import { LOCAL_SECRET_ARN, type LocalSubstitutions } from './local-deployment';

/**
 * The environment a local run gives the handlers: the same `PGSHIFT_*` variables the CDK stack sets on each
 * function, with `DATABASE_URL` in place of the secret's ARN. Flags win over the caller's environment.
 */
export function localEnvironment(flags: Flags, env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const flag = (name: string): string | undefined => {
    const v = flags[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const pick = (name: string, envName: string): string | undefined =>
    flag(name) ?? (env[envName] || undefined);
  const problems: string[] = [];
  const databaseUrl = pick('database-url', 'DATABASE_URL');
  if (!databaseUrl) problems.push('no database: pass --database-url or set DATABASE_URL');
  const bucket = pick('bucket', 'PGSHIFT_BUCKET');
  if (!bucket) problems.push('no bucket: pass --bucket or set PGSHIFT_BUCKET');
  if (problems.length > 0) throw new ConfigurationError(problems.join('; '), { details: { problems } });
  let databaseName = flag('database') ?? (env.PGSHIFT_DATABASE || undefined);
  if (!databaseName) {
    try {
      databaseName = targetFromUrl(databaseUrl as string).database;
    } catch (err) {
      throw new ConfigurationError(`--database-url is not a PostgreSQL URL: ${errorMessage(err)}`);
    }
  }
  const out: Record<string, string | undefined> = {
    DATABASE_URL: databaseUrl,
    PGSHIFT_BUCKET: bucket,
    PGSHIFT_DATABASE: databaseName,
    AWS_ENDPOINT_URL_S3: pick('s3-endpoint', 'AWS_ENDPOINT_URL_S3'),
    AWS_ENDPOINT_URL_SNS: pick('sns-endpoint', 'AWS_ENDPOINT_URL_SNS'),
    PGSHIFT_TOPIC_ARN: pick('topic-arn', 'PGSHIFT_TOPIC_ARN'),
    PGSHIFT_KMS_KEY_ID: pick('kms-key-id', 'PGSHIFT_KMS_KEY_ID'),
    PGSHIFT_MIGRATIONS_DIR: path.resolve(pick('migrations', 'PGSHIFT_MIGRATIONS_DIR') ?? 'migrations'),
    PGSHIFT_LOCK_TIMEOUT: pick('lock-timeout', 'PGSHIFT_LOCK_TIMEOUT'),
    PGSHIFT_STATEMENT_TIMEOUT: pick('statement-timeout', 'PGSHIFT_STATEMENT_TIMEOUT'),
    PGSHIFT_BACKUP_PREFIX: pick('output-prefix', 'PGSHIFT_BACKUP_PREFIX'),
    AWS_REGION: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    // The handlers' Powertools logs are JSON lines on stdout: in a terminal they would bury the summary and
    // break --json. Errors reach the user through the run's outcome; set POWERTOOLS_LOG_LEVEL to see them.
    POWERTOOLS_LOG_LEVEL: env.POWERTOOLS_LOG_LEVEL || 'SILENT',
  };
  return Object.fromEntries(Object.entries(out).filter((e): e is [string, string] => e[1] !== undefined));
}

/** What a local run needs beyond the synthesized stack, and the context it synthesizes with. */
export interface LocalRun {
  substitutions: LocalSubstitutions;
  /** Context overrides of the local stack (TLS mode of --database-url, timeouts). */
  database: { sslMode: SslMode };
  workflow: { lockTimeout?: string; statementTimeout?: string };
  databaseName: string;
}

/**
 * The local run's substitutions (bin/cli/local-deployment.ts): the database behind --database-url stands in
 * for the secret's, the bucket and endpoints for the stack's, --migrations for the folder baked into the
 * migrate asset. Everything else the functions see comes from the synthesized template.
 */
export function localRunFrom(flags: Flags, env: NodeJS.ProcessEnv = process.env): LocalRun {
  const vars = localEnvironment(flags, env);
  if (!vars.AWS_ENDPOINT_URL_S3) {
    throw new ConfigurationError(
      'no S3 endpoint: pass --s3-endpoint or set AWS_ENDPOINT_URL_S3 (a local run needs an S3-compatible server)',
    );
  }
  const target = targetFromUrl(vars.DATABASE_URL);
  const substitutions: LocalSubstitutions = {
    storeEndpoint: vars.AWS_ENDPOINT_URL_S3,
    snsEndpoint: vars.AWS_ENDPOINT_URL_SNS,
    bucket: vars.PGSHIFT_BUCKET,
    topicArn: vars.PGSHIFT_TOPIC_ARN,
    kmsKeyId: vars.PGSHIFT_KMS_KEY_ID,
    databaseName: vars.PGSHIFT_DATABASE,
    backupPrefix: vars.PGSHIFT_BACKUP_PREFIX,
    databaseSecret: {
      arn: LOCAL_SECRET_ARN,
      value: JSON.stringify({
        engine: 'postgres',
        host: target.host,
        port: target.port,
        username: target.user,
        password: target.password,
        dbname: target.database,
      }),
    },
    caBundleFile: target.sslMode.startsWith('verify') ? target.sslRootCert : undefined,
    pgBin: localPgBin(env),
    migrationsDir: vars.PGSHIFT_MIGRATIONS_DIR,
    // The handlers' Powertools logs are JSON lines; the CLI keeps them off the terminal unless asked.
    extraEnv: env.POWERTOOLS_LOG_LEVEL ? { POWERTOOLS_LOG_LEVEL: env.POWERTOOLS_LOG_LEVEL } : {},
  };
  return {
    substitutions,
    database: { sslMode: target.sslMode },
    workflow: { lockTimeout: vars.PGSHIFT_LOCK_TIMEOUT, statementTimeout: vars.PGSHIFT_STATEMENT_TIMEOUT },
    databaseName: vars.PGSHIFT_DATABASE,
  };
}

/** Fails early, in one line, when the bucket is missing or unreachable (rather than after a whole dump). */
export async function assertBucketReachable(
  subs: Pick<LocalSubstitutions, 'bucket' | 'storeEndpoint'>,
): Promise<void> {
  const s3 = createS3Client({ endpoint: subs.storeEndpoint });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: subs.bucket }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const why =
      status === 404
        ? 'does not exist'
        : status === 403
          ? 'is not accessible with these credentials'
          : `cannot be reached (${(err as Error).name}: ${errorMessage(err)})`;
    throw new ConfigurationError(`bucket "${subs.bucket}" ${why} at ${subs.storeEndpoint}`);
  } finally {
    s3.destroy();
  }
}

/**
 * The local pg tools that stand in for the image's: PGSHIFT_PG_BIN, else the newest Debian-packaged major,
 * else the folder of pg_dump on PATH.
 */
export function localPgBin(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGSHIFT_PG_BIN) return env.PGSHIFT_PG_BIN;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const majors = readdirSync(debian)
      .filter((m) => existsSync(path.join(debian, m, 'bin', 'pg_dump')))
      .sort((a, b) => Number(b) - Number(a));
    if (majors.length > 0) return path.join(debian, majors[0], 'bin');
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'pg_dump'))) return dir;
  }
  throw new ConfigurationError(
    'pg_dump not found: install the PostgreSQL client tools or set PGSHIFT_PG_BIN',
  );
}
