import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSL_MODES, targetFromSecret, targetFromUrl, type DatabaseTarget, type SslMode } from './db';
import { taskRootPath } from './env';
import { envEnum, envString, type Env } from './env-parsers';
import { ConfigurationError, DatabaseConnectionError } from './errors';
import { DEFAULT_BACKUP_PREFIX } from './keys';

// Each step's own section (lint, schema, report, restore, apply time, alerts): one place to read the environment.
export * from './config-sections';

/**
 * pgshift's configuration, read once from the environment. The CDK stack sets these variables on each
 * function (lib/pgshift-function.ts); the CLI sets them from its flags; tests build the object directly.
 * Secrets never travel here: only the secret's ARN does.
 */
export interface PgshiftConfig {
  /** Bucket for backups, schemas, diffs and reports (PGSHIFT_BUCKET). */
  bucket: string;
  /** KMS key for SSE-KMS (PGSHIFT_KMS_KEY_ID); absent means the bucket's default key. */
  kmsKeyId?: string;
  /** Key prefix of backups (PGSHIFT_BACKUP_PREFIX). @default "backups" */
  backupPrefix: string;
  /** Where the database credentials come from: a Secrets Manager secret (AWS) or a URL (local). */
  database:
    | {
        kind: 'secret';
        secretId: string;
        host?: string;
        port?: number;
        name?: string;
        sslMode?: SslMode;
        sslRootCert?: string;
      }
    | { kind: 'url'; url: string };
  /** Logical database name used in S3 keys and alerts (PGSHIFT_DATABASE). @default the connected database's name */
  databaseName?: string;
  /**
   * Folder of migration files (PGSHIFT_MIGRATIONS_DIR); a relative value is read from the task root
   * (LAMBDA_TASK_ROOT, else the working directory). @default "migrations"
   */
  migrationsDir: string;
  /** SNS topic for alerts (PGSHIFT_TOPIC_ARN). */
  topicArn?: string;
  /** Defaults for each migration, overridable per file. @default "5s" and "13min" (below the 15-minute Lambda timeout, so PostgreSQL ends the statement before Lambda kills its client) */
  lockTimeout: string;
  statementTimeout: string;
  /** pg_dump compression (PGSHIFT_BACKUP_COMPRESSION), e.g. "1", "gzip:1", "zstd:3". @default "1" */
  backupCompression: string;
  /** Local S3-compatible endpoint (AWS_ENDPOINT_URL_S3); unset on AWS. */
  s3Endpoint?: string;
  /** RDS instance id for CloudWatch metrics (PGSHIFT_RDS_INSTANCE_ID); unset locally. */
  rdsInstanceId?: string;
  /** Aurora cluster id for CloudWatch metrics (PGSHIFT_RDS_CLUSTER_ID); unset locally. */
  rdsClusterId?: string;
}

const read = (env: Env, name: string): string | undefined => envString(env, name);

/** Reads PgshiftConfig from environment variables; lists every missing one in a single error. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): PgshiftConfig {
  const problems: string[] = [];
  const bucket = read(env, 'PGSHIFT_BUCKET');
  if (!bucket) problems.push('PGSHIFT_BUCKET is not set');
  const secretId = read(env, 'PGSHIFT_DB_SECRET_ARN');
  const url = read(env, 'DATABASE_URL');
  if (!secretId && !url) problems.push('neither PGSHIFT_DB_SECRET_ARN nor DATABASE_URL is set');
  if (secretId && url) problems.push('both PGSHIFT_DB_SECRET_ARN and DATABASE_URL are set; choose one');
  const port = read(env, 'PGSHIFT_DB_PORT');
  const sslRootCert = read(env, 'PGSHIFT_DB_SSLROOTCERT');
  if (port !== undefined && !/^\d+$/.test(port)) problems.push('PGSHIFT_DB_PORT is not a number');
  let sslMode: SslMode | undefined;
  try {
    // A misspelt mode would otherwise connect without TLS (connect only enables it for the modes it knows).
    sslMode = envEnum(env, 'PGSHIFT_DB_SSLMODE', SSL_MODES);
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    problems.push(err.message);
  }
  const database: PgshiftConfig['database'] | undefined = secretId
    ? {
        kind: 'secret',
        secretId,
        host: read(env, 'PGSHIFT_DB_HOST'),
        port: port === undefined ? undefined : Number(port),
        name: read(env, 'PGSHIFT_DB_NAME'),
        sslMode,
        // Like every file a function opens: a relative path is read from the task root.
        sslRootCert: sslRootCert === undefined ? undefined : taskRootPath(sslRootCert, env),
      }
    : url
      ? { kind: 'url', url }
      : undefined;
  // A missing bucket or database is among the problems already.
  if (problems.length > 0 || !bucket || !database)
    throw new ConfigurationError(`Configuration incomplete: ${problems.join('; ')}`, {
      details: { problems },
    });
  return {
    bucket,
    kmsKeyId: read(env, 'PGSHIFT_KMS_KEY_ID'),
    backupPrefix: read(env, 'PGSHIFT_BACKUP_PREFIX') ?? DEFAULT_BACKUP_PREFIX,
    database,
    databaseName: read(env, 'PGSHIFT_DATABASE'),
    migrationsDir: taskRootPath(read(env, 'PGSHIFT_MIGRATIONS_DIR') ?? 'migrations', env),
    topicArn: read(env, 'PGSHIFT_TOPIC_ARN'),
    lockTimeout: read(env, 'PGSHIFT_LOCK_TIMEOUT') ?? '5s',
    statementTimeout: read(env, 'PGSHIFT_STATEMENT_TIMEOUT') ?? '13min',
    backupCompression: read(env, 'PGSHIFT_BACKUP_COMPRESSION') ?? '1',
    s3Endpoint: read(env, 'AWS_ENDPOINT_URL_S3'),
    rdsInstanceId: read(env, 'PGSHIFT_RDS_INSTANCE_ID'),
    rdsClusterId: read(env, 'PGSHIFT_RDS_CLUSTER_ID'),
  };
}

/** Resolves the database target: from the secret on AWS, from the URL locally. */
export async function resolveTarget(
  config: PgshiftConfig,
  secrets: () => SecretsManagerClient,
): Promise<DatabaseTarget> {
  const db = config.database;
  if (db.kind === 'url') return targetFromUrl(db.url);
  return targetFromSecret(secrets(), db.secretId, {
    host: db.host,
    port: db.port,
    database: db.name,
    sslMode: db.sslMode,
    sslRootCert: db.sslRootCert,
  });
}

/** A handler's database target, cached per container; `reread` bypasses the cache (after a failed login). */
export interface TargetResolver {
  (): Promise<DatabaseTarget>;
  /** Reads the secret again now and caches the result. For a URL target, the same target. */
  reread: () => Promise<DatabaseTarget>;
  /** True when the target comes from a secret that can change under a warm container (rotation). */
  readonly fromSecret: boolean;
}

export interface TargetResolverOptions {
  /**
   * How long a secret's credentials are reused before the next invocation reads the secret again. RDS rotates
   * managed secrets every 7 days by default; a login failure re-reads at once regardless. @default 600000 (10 min)
   */
  ttlMs?: number;
  /** Clock, for tests. @default Date.now */
  now?: () => number;
}

/**
 * A handler's database target, resolved once per container and shared by its invocations for `ttlMs` (one
 * Secrets Manager read, one client); a failed resolution is not cached, so the next invocation retries.
 */
export function cachedTargetResolver(
  config: PgshiftConfig,
  options: TargetResolverOptions = {},
): TargetResolver {
  const ttlMs = options.ttlMs ?? 600_000;
  const now = options.now ?? Date.now;
  let secrets: SecretsManagerClient | undefined;
  let cached: { target: Promise<DatabaseTarget>; at: number } | undefined;
  const read = (): Promise<DatabaseTarget> => {
    // Created lazily: local runs (DATABASE_URL) never construct a Secrets Manager client.
    const target = resolveTarget(config, () => (secrets ??= new SecretsManagerClient({}))).catch(
      (err: unknown) => {
        if (cached?.target === target) cached = undefined;
        throw err;
      },
    );
    cached = { target, at: now() };
    return target;
  };
  const fromSecret = config.database.kind === 'secret';
  const current = (): Promise<DatabaseTarget> => {
    if (cached && (!fromSecret || now() - cached.at < ttlMs)) return cached.target;
    return read();
  };
  const resolver: TargetResolver = Object.assign(current, {
    reread: () => (fromSecret ? read() : current()),
    fromSecret,
  });
  return resolver;
}

/** PostgreSQL refused the login's password (SQLSTATE 28P01), as `connect` reports it. */
export function isAuthenticationFailure(err: unknown): boolean {
  return err instanceof DatabaseConnectionError && err.details.sqlState === '28P01';
}

/**
 * Wraps a handler so that a login refused with 28P01 re-reads the secret once and, when the credentials changed
 * (the secret was rotated), runs the handler again with them. Safe because every step connects before it does
 * any work, and later failures of a step are its own typed errors, not DatabaseConnectionError. When the
 * secret still holds the refused credentials (rotation half-way), the login failure is thrown as it is.
 */
export function retryOnRotatedSecret<A extends unknown[], R>(
  resolver: TargetResolver,
  handler: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args: A) => {
    const before = await resolver();
    try {
      return await handler(...args);
    } catch (err) {
      if (!resolver.fromSecret || !isAuthenticationFailure(err)) throw err;
      const fresh = await resolver.reread();
      if (fresh.user === before.user && fresh.password === before.password) throw err;
      return handler(...args);
    }
  };
}
