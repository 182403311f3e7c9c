import * as path from 'node:path';
import { HeadBucketCommand } from '@aws-sdk/client-s3';
import { targetFromUrl } from '../../lambdas/shared/db';
import { ConfigurationError } from '../../lambdas/shared/errors';
import { createS3Client } from '../../lambdas/shared/s3';
import type { Flags } from './args';

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
      throw new ConfigurationError(`--database-url is not a PostgreSQL URL: ${(err as Error).message}`);
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

/** Applies a local environment to this process (the handlers read it when they load). */
export function applyEnvironment(vars: Record<string, string>): void {
  // A secret ARN from the caller's shell would make loadConfig refuse DATABASE_URL: a local run uses the URL.
  delete process.env.PGSHIFT_DB_SECRET_ARN;
  Object.assign(process.env, vars);
}

/** Fails early, in one line, when the bucket is missing or unreachable (rather than after a whole dump). */
export async function assertBucketReachable(vars: Record<string, string>): Promise<void> {
  const s3 = createS3Client({ endpoint: vars.AWS_ENDPOINT_URL_S3 });
  try {
    await s3.send(new HeadBucketCommand({ Bucket: vars.PGSHIFT_BUCKET }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    const why =
      status === 404
        ? 'does not exist'
        : status === 403
          ? 'is not accessible with these credentials'
          : `cannot be reached (${(err as Error).name}: ${(err as Error).message})`;
    throw new ConfigurationError(
      `bucket "${vars.PGSHIFT_BUCKET}" ${why}${vars.AWS_ENDPOINT_URL_S3 ? ` at ${vars.AWS_ENDPOINT_URL_S3}` : ''}`,
    );
  } finally {
    s3.destroy();
  }
}
