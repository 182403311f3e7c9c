import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Client, escapeIdentifier, type ClientBase, type ClientConfig } from 'pg';
import { parse as parseConnectionString } from 'pg-connection-string';
import { taskRootPath } from './env';
import { ConfigurationError, DatabaseConnectionError, errorMessage } from './errors';

/** libpq's TLS modes that pgshift supports; `verify-full` is the default on AWS (RDS CA bundle in every asset). */
export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';
export const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-ca', 'verify-full'];

/**
 * Where the RDS CA bundle sits: `certs/rds-global-bundle.pem` in the task root of every zip function and of the
 * image (the CDK bundling puts it there: lib/bundled-files.ts).
 */
export function rdsCaBundlePath(env: NodeJS.ProcessEnv = process.env): string {
  return taskRootPath('certs/rds-global-bundle.pem', env);
}

/** Everything needed to reach one database. `password` never leaves this process except as PGPASSWORD. */
export interface DatabaseTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
  sslMode: SslMode;
  /** CA file for verify-ca / verify-full. */
  sslRootCert?: string;
}

function parseSslMode(value: string | undefined, fallback: SslMode): SslMode {
  if (value === undefined || value === '') return fallback;
  // libpq's `prefer`/`allow` try TLS and fall back silently; pgshift does not fall back, so they mean require.
  if (value === 'prefer' || value === 'allow') return 'require';
  if (!(SSL_MODES as readonly string[]).includes(value)) {
    throw new ConfigurationError(`Unknown sslmode "${value}" (expected one of ${SSL_MODES.join(', ')})`);
  }
  return value as SslMode;
}

/**
 * Reads a `postgres://user:pass@host:port/db?sslmode=...&sslrootcert=...` URL (local mode and the CLI).
 * Without sslmode it means `disable`, as for a local server; say `sslmode=verify-full` for a remote one.
 */
export function targetFromUrl(databaseUrl: string): DatabaseTarget {
  let parsed: ReturnType<typeof parseConnectionString>;
  let url: URL;
  try {
    url = new URL(databaseUrl);
    // TLS parameters are read here, with libpq's meaning, not by pg-connection-string (which reinterprets them).
    const bare = new URL(databaseUrl);
    bare.search = '';
    parsed = parseConnectionString(bare.toString());
  } catch (err) {
    throw new ConfigurationError('DATABASE_URL is not a valid postgres:// URL', { cause: err });
  }
  const missing = [!parsed.host && 'host', !parsed.database && 'database name'].filter(Boolean);
  if (missing.length > 0) throw new ConfigurationError(`DATABASE_URL lacks ${missing.join(' and ')}`);
  return {
    host: parsed.host as string,
    port: parsed.port ? Number(parsed.port) : 5432,
    user: parsed.user ?? 'postgres',
    password: parsed.password ?? '',
    database: parsed.database as string,
    sslMode: parseSslMode(url.searchParams.get('sslmode') ?? undefined, 'disable'),
    sslRootCert: url.searchParams.get('sslrootcert') ?? undefined,
  };
}

/** Fields of an RDS secret (`{host,port,username,password,dbname}`); RDS-managed master secrets hold only the last two... */
export interface DatabaseSecretOverrides {
  /** ...so host/port/database can come from configuration instead (cdk.json context). */
  host?: string;
  port?: number;
  database?: string;
  sslMode?: SslMode;
  sslRootCert?: string;
}

/** Loads a database target from a Secrets Manager secret in the RDS JSON shape. Never echoes secret values. */
export async function targetFromSecret(
  secrets: SecretsManagerClient,
  secretId: string,
  overrides: DatabaseSecretOverrides = {},
): Promise<DatabaseTarget> {
  let secretString: string | undefined;
  try {
    const res = await secrets.send(new GetSecretValueCommand({ SecretId: secretId }));
    secretString = res.SecretString;
  } catch (err) {
    const name = (err as { name?: string }).name ?? 'Error';
    throw new ConfigurationError(`Cannot read database secret ${secretId}: ${name}`, {
      cause: err,
      details: { secretId },
    });
  }
  if (!secretString) throw new ConfigurationError(`Database secret ${secretId} has no SecretString`);
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(secretString) as Record<string, unknown>;
  } catch {
    throw new ConfigurationError(`Database secret ${secretId} is not JSON in the RDS secret shape`);
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const host = overrides.host ?? str(fields.host);
  const portValue = overrides.port ?? (fields.port === undefined ? 5432 : Number(fields.port));
  const user = str(fields.username);
  const password = str(fields.password);
  const database = overrides.database ?? str(fields.dbname);
  const missing = [
    !host && 'host',
    !user && 'username',
    !password && 'password',
    !database && 'dbname',
    !Number.isInteger(portValue) && 'port (a number)',
  ].filter(Boolean);
  if (missing.length > 0) {
    throw new ConfigurationError(`Database secret ${secretId} lacks ${missing.join(', ')}`, {
      details: { secretId, missing },
    });
  }
  return {
    host: host as string,
    port: portValue,
    user: user as string,
    password: password as string,
    database: database as string,
    sslMode: overrides.sslMode ?? 'verify-full',
    sslRootCert: overrides.sslRootCert ?? rdsCaBundlePath(),
  };
}

/** The same target with another database name (restore works on sibling databases). */
export function withDatabaseName(target: DatabaseTarget, database: string): DatabaseTarget {
  return { ...target, database };
}

/** node-postgres configuration; TLS settings follow libpq's meaning of each sslmode. */
export function pgClientConfig(target: DatabaseTarget, applicationName = 'pgshift'): ClientConfig {
  let ssl: ClientConfig['ssl'] = false;
  if (target.sslMode === 'require') ssl = { rejectUnauthorized: false };
  if (target.sslMode === 'verify-ca' || target.sslMode === 'verify-full') {
    if (!target.sslRootCert) {
      throw new ConfigurationError(`sslmode=${target.sslMode} needs a CA file (sslrootcert)`);
    }
    let ca: string;
    try {
      ca = readFileSync(target.sslRootCert, 'utf8');
    } catch (err) {
      throw new ConfigurationError(
        `sslmode=${target.sslMode} for ${target.host}:${target.port} needs the CA file ${target.sslRootCert}, ` +
          `which cannot be read (${(err as { code?: string }).code ?? String(err)}). Nothing was sent to the ` +
          'database. On AWS the bundle ships in every asset at certs/rds-global-bundle.pem (redeploy if it is ' +
          'missing); locally, give sslrootcert=<file> in the URL or PGSHIFT_DB_SSLROOTCERT.',
        { cause: err, details: { sslRootCert: target.sslRootCert, host: target.host } },
      );
    }
    ssl =
      target.sslMode === 'verify-full'
        ? { ca, rejectUnauthorized: true, servername: target.host }
        : // verify-ca checks the chain but not the host name.
          { ca, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  }
  return {
    host: target.host,
    port: target.port,
    user: target.user,
    password: target.password,
    database: target.database,
    ssl,
    application_name: applicationName,
    connectionTimeoutMillis: 15000,
    // Our side notices a dead server; SESSION_SAFETY makes the server notice a dead pgshift.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
}

/** Environment for libpq tools (pg_dump, pg_restore, psql): the password travels here, never in argv. */
export function libpqEnv(target: DatabaseTarget, applicationName = 'pgshift'): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    PGHOST: target.host,
    PGPORT: String(target.port),
    PGUSER: target.user,
    PGPASSWORD: target.password,
    PGDATABASE: target.database,
    PGSSLMODE: target.sslMode,
    PGAPPNAME: applicationName,
    PGCONNECT_TIMEOUT: '15',
  };
  if (target.sslRootCert) env.PGSSLROOTCERT = target.sslRootCert;
  return env;
}

/** A libpq conninfo `dbname='...'`: a tool's --dbname would otherwise read `=` or a URI in a name as options. */
export function conninfoDbname(database: string): string {
  return `dbname='${database.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * libpq's TCP keepalives and user timeout, matching what pgClientConfig gives node-postgres, so pg_dump and
 * pg_restore notice a vanished server too. They go in the conninfo because libpq reads no environment variable
 * for them; they carry no credential.
 */
const LIBPQ_KEEPALIVES =
  'keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 tcp_user_timeout=20000';

/** The `--dbname` of pg_dump and pg_restore: the database and libpq's keepalives, never a credential. */
export function toolConninfo(database: string): string {
  return `${conninfoDbname(database)} ${LIBPQ_KEEPALIVES}`;
}

/** Removes the password (raw and URL-encoded) from text that may reach a log, an error or a report. */
export function redactSecrets(text: string, target: Pick<DatabaseTarget, 'password'>): string {
  if (!target.password) return text;
  let out = text;
  for (const secret of new Set([target.password, encodeURIComponent(target.password)])) {
    out = out.split(secret).join('********');
  }
  return out.replace(/(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/g, '$1********@');
}

const CONNECTION_SQLSTATES: Record<string, string> = {
  '28P01': 'password authentication failed',
  '28000': 'login refused by pg_hba.conf or role settings',
  '3D000': 'database does not exist',
  '53300': 'too many connections',
  '57P03': 'the server is starting up or shutting down',
};

/**
 * Session settings that let the server end a pgshift backend whose client died (Lambda timed out, the process was
 * killed, the host vanished) within seconds, instead of running its statement and holding its locks to the end:
 * `client_connection_check_interval` (PostgreSQL 14+) checks the socket during a long statement, the keepalives
 * and `tcp_user_timeout` catch a peer that vanished without closing it, and `idle_in_transaction_session_timeout`
 * ends a transaction left open. Set with set_config from pg_settings, so a server without a setting skips it.
 */
export const SESSION_SAFETY: Readonly<Record<string, string>> = {
  client_connection_check_interval: '2s',
  tcp_keepalives_idle: '10',
  tcp_keepalives_interval: '5',
  tcp_keepalives_count: '3',
  tcp_user_timeout: '20s',
  idle_in_transaction_session_timeout: '5min',
};

async function applySessionSafety(client: Client): Promise<void> {
  const names = Object.keys(SESSION_SAFETY);
  await client.query(
    `SELECT set_config(s.name, v.value, false)
       FROM unnest($1::text[], $2::text[]) AS v(name, value)
       JOIN pg_settings s ON s.name = v.name`,
    [names, names.map((n) => SESSION_SAFETY[n])],
  );
}

/**
 * SESSION_SAFETY as libpq's PGOPTIONS (`-c name=value ...`), limited to the settings `client`'s server has: at
 * login an unknown name is fatal (client_connection_check_interval is PostgreSQL 14+), unlike set_config's skip.
 */
export async function sessionSafetyOptions(client: ClientBase): Promise<string> {
  const res = await client.query<{ name: string }>(
    'SELECT name FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name',
    [Object.keys(SESSION_SAFETY)],
  );
  return res.rows.map((r) => `-c ${r.name}=${SESSION_SAFETY[r.name]}`).join(' ');
}

/**
 * libpqEnv plus PGOPTIONS carrying SESSION_SAFETY, for pg_dump and pg_restore, whose sessions pgshift does not
 * open itself: a short connection first asks the server which of the settings it knows. pg_dump and pg_restore
 * then set idle_in_transaction_session_timeout to 0 themselves (a dump is legitimately idle in its transaction
 * while the upload catches up); the client check and the keepalives stay.
 */
export async function libpqSessionEnv(
  target: DatabaseTarget,
  applicationName = 'pgshift',
): Promise<NodeJS.ProcessEnv> {
  const options = await withClient(target, sessionSafetyOptions, applicationName);
  return libpqSessionEnvWith(target, options, applicationName);
}

/** libpqSessionEnv with PGOPTIONS already read (`sessionSafetyOptions`) over a connection the caller had open. */
export function libpqSessionEnvWith(
  target: DatabaseTarget,
  pgOptions: string,
  applicationName = 'pgshift',
): NodeJS.ProcessEnv {
  return { ...libpqEnv(target, applicationName), PGOPTIONS: pgOptions };
}

/** Connects a node-postgres client, turning every failure into a DatabaseConnectionError that names where, not how. */
export async function connect(target: DatabaseTarget, applicationName = 'pgshift'): Promise<Client> {
  const client = new Client(pgClientConfig(target, applicationName));
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    const e = err as { code?: string; message?: string };
    const reason = (e.code && CONNECTION_SQLSTATES[e.code]) ?? e.code ?? 'connection failed';
    const where = `database "${target.database}" at ${target.host}:${target.port} as "${target.user}"`;
    throw new DatabaseConnectionError(
      `Cannot connect to ${where}: ${reason} (${redactSecrets(e.message ?? String(err), target)})`,
      {
        cause: err,
        details: { sqlState: e.code, host: target.host, port: target.port, database: target.database },
      },
    );
  }
  // A client without an error listener crashes the process when the server ends the connection.
  client.on('error', () => undefined);
  try {
    await applySessionSafety(client);
  } catch (err) {
    await client.end().catch(() => undefined);
    throw new DatabaseConnectionError(
      `Connected to database "${target.database}" at ${target.host}:${target.port} but could not set the session ` +
        `safety settings (${redactSecrets(errorMessage(err), target)}); nothing was run.`,
      { cause: err, details: { host: target.host, port: target.port, database: target.database } },
    );
  }
  return client;
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(
  target: DatabaseTarget,
  fn: (client: Client) => Promise<T>,
  applicationName = 'pgshift',
): Promise<T> {
  const client = await connect(target, applicationName);
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Double-quotes an identifier for SQL text (names with quotes, spaces, unicode, mixed case): pg's own quoting. */
export function quoteIdent(name: string): string {
  return escapeIdentifier(name);
}

/**
 * Single-quotes a string literal for SQL text, doubling its quotes. Not pg's `escapeLiteral`: that one also
 * doubles backslashes and writes ` E'...'`, which would change the SQL pgshift prints and runs.
 */
export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * The current database's size in bytes (`pg_database_size`): the catalog's sum of its files, so no table is read
 * and nothing is locked beyond the catalog lookup. What the runner choices (Lambda or Fargate) compare.
 */
export async function databaseSizeBytes(client: ClientBase): Promise<number> {
  const res = await client.query<{ bytes: string }>(
    'SELECT pg_database_size(current_database())::text AS bytes',
  );
  return Number(res.rows[0]?.bytes);
}
