import * as path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { targetFromUrl } from '../../lambdas/shared/db';
import { ConfigurationError, errorMessage, errorName } from '../../lambdas/shared/errors';
import { createS3Client } from '../../lambdas/shared/s3';
import { existsSync, readdirSync } from 'node:fs';
import type { SslMode } from '../../lambdas/shared/db';
import type { Flags } from './args';
import { LOCAL_SECRET_ARN, type LocalSubstitutions } from './local-deployment';

/**
 * The environment a local run gives the handlers: the same `PGSHIFT_*` variables the CDK stack sets on each
 * function, with `DATABASE_URL` in place of the secret's ARN. Flags win over the caller's environment.
 */
export function localEnvironment(flags: Flags, env: NodeJS.ProcessEnv = process.env): LocalEnvironment {
  const flag = (name: string): string | undefined => {
    const v = flags[name];
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  const pick = (name: string, envName: string): string | undefined =>
    flag(name) ?? (env[envName] || undefined);
  const databaseUrl = pick('database-url', 'DATABASE_URL');
  const bucket = pick('bucket', 'PGSHIFT_BUCKET');
  if (!databaseUrl || !bucket) {
    const problems = [
      ...(databaseUrl ? [] : ['no database: pass --database-url or set DATABASE_URL']),
      ...(bucket ? [] : ['no bucket: pass --bucket or set PGSHIFT_BUCKET']),
    ];
    throw new ConfigurationError(problems.join('; '), { details: { problems } });
  }
  let databaseName = flag('database') ?? (env.PGSHIFT_DATABASE || undefined);
  if (!databaseName) {
    try {
      databaseName = targetFromUrl(databaseUrl).database;
    } catch (err) {
      throw new ConfigurationError(`--database-url is not a PostgreSQL URL: ${errorMessage(err)}`);
    }
  }
  const optional: Record<string, string | undefined> = {
    AWS_ENDPOINT_URL_S3: pick('s3-endpoint', 'AWS_ENDPOINT_URL_S3'),
    AWS_ENDPOINT_URL_SNS: pick('sns-endpoint', 'AWS_ENDPOINT_URL_SNS'),
    PGSHIFT_TOPIC_ARN: pick('topic-arn', 'PGSHIFT_TOPIC_ARN'),
    PGSHIFT_KMS_KEY_ID: pick('kms-key-id', 'PGSHIFT_KMS_KEY_ID'),
    PGSHIFT_LOCK_TIMEOUT: pick('lock-timeout', 'PGSHIFT_LOCK_TIMEOUT'),
    PGSHIFT_STATEMENT_TIMEOUT: pick('statement-timeout', 'PGSHIFT_STATEMENT_TIMEOUT'),
    PGSHIFT_BACKUP_PREFIX: pick('output-prefix', 'PGSHIFT_BACKUP_PREFIX'),
  };
  return {
    ...Object.fromEntries(Object.entries(optional).filter((e): e is [string, string] => e[1] !== undefined)),
    DATABASE_URL: databaseUrl,
    PGSHIFT_BUCKET: bucket,
    PGSHIFT_DATABASE: databaseName,
    PGSHIFT_MIGRATIONS_DIR: path.resolve(pick('migrations', 'PGSHIFT_MIGRATIONS_DIR') ?? 'migrations'),
    AWS_REGION: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    // The handlers' Powertools logs are JSON lines on stdout: in a terminal they would bury the summary and
    // break --json. Errors reach the user through the run's outcome; set POWERTOOLS_LOG_LEVEL to see them.
    POWERTOOLS_LOG_LEVEL: env.POWERTOOLS_LOG_LEVEL || 'SILENT',
  };
}

/** The variables of a local run: these always, the endpoints, topic, key, timeouts and prefix when given. */
export type LocalEnvironment = Record<string, string> & {
  DATABASE_URL: string;
  PGSHIFT_BUCKET: string;
  PGSHIFT_DATABASE: string;
  PGSHIFT_MIGRATIONS_DIR: string;
  AWS_REGION: string;
  POWERTOOLS_LOG_LEVEL: string;
};

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

/** The HTTP status an AWS SDK error carries in its $metadata. */
function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const metadata = err.$metadata;
  if (typeof metadata !== 'object' || metadata === null || !('httpStatusCode' in metadata)) return undefined;
  return typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}

/** Fails early, in one line, when the bucket is missing or unreachable (rather than after a whole dump). */
export async function assertBucketReachable(
  subs: Pick<LocalSubstitutions, 'bucket' | 'storeEndpoint'>,
): Promise<void> {
  const s3 = createS3Client({ endpoint: subs.storeEndpoint });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: subs.bucket }));
  } catch (err) {
    const status = httpStatusOf(err);
    const why =
      status === 404
        ? 'does not exist'
        : status === 403
          ? 'is not accessible with these credentials'
          : `cannot be reached (${errorName(err)}: ${errorMessage(err)})`;
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
    const [newest] = majors;
    if (newest !== undefined) return path.join(debian, newest, 'bin');
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (dir && existsSync(path.join(dir, 'pg_dump'))) return dir;
  }
  throw new ConfigurationError(
    'pg_dump not found: install the PostgreSQL client tools or set PGSHIFT_PG_BIN',
  );
}
