import { mockClient } from 'aws-sdk-client-mock';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { ConfigurationError } from '../../lambdas/shared/errors';
import {
  libpqEnv,
  redactSecrets,
  targetFromSecret,
  targetFromUrl,
  toolConninfo,
} from '../../lambdas/shared/db';

describe('database targets', () => {
  test('a DATABASE_URL is read with its sslmode; libpq prefer means require', () => {
    const t = targetFromUrl('postgres://app:s%40cret@db.example:6543/my%20db?sslmode=prefer');
    expect(t).toMatchObject({
      host: 'db.example',
      port: 6543,
      user: 'app',
      password: 's@cret',
      database: 'my db',
      sslMode: 'require',
    });
  });

  test('a URL without a database is refused', () => {
    expect(() => targetFromUrl('postgres://app@localhost')).toThrow(ConfigurationError);
  });

  test('the password goes to libpq only through PGPASSWORD', () => {
    const env = libpqEnv(targetFromUrl('postgres://app:pw123@h:5432/d'));
    expect(env.PGPASSWORD).toBe('pw123');
    expect(Object.entries(env).filter(([k, v]) => k !== 'PGPASSWORD' && String(v).includes('pw123'))).toEqual(
      [],
    );
  });

  test("pg_dump and pg_restore get libpq's keepalives in their conninfo, with the database quoted", () => {
    expect(toolConninfo("o'k db")).toBe(
      "dbname='o\\'k db' keepalives=1 keepalives_idle=10 keepalives_interval=5 keepalives_count=3 " +
        'tcp_user_timeout=20000',
    );
  });

  test('redaction removes raw, URL-encoded and URL-embedded passwords', () => {
    const text = 'failed for p@ss w0rd and p%40ss%20w0rd in postgres://u:other@h/d';
    expect(redactSecrets(text, { password: 'p@ss w0rd' })).toBe(
      'failed for ******** and ******** in postgres://u:********@h/d',
    );
  });
});

describe('database secret (Secrets Manager mocked: no local stand-in)', () => {
  const sm = mockClient(SecretsManagerClient);
  afterEach(() => sm.reset());

  test('an RDS-shaped secret gives a verify-full target', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({
        host: 'db.rds',
        port: 5432,
        username: 'pgshift',
        password: 'x',
        dbname: 'app',
        engine: 'postgres',
      }),
    });
    const t = await targetFromSecret(new SecretsManagerClient({}), 'arn:secret');
    expect(t).toMatchObject({
      host: 'db.rds',
      port: 5432,
      user: 'pgshift',
      database: 'app',
      sslMode: 'verify-full',
    });
  });

  test('an RDS-managed master secret (username/password only) takes host and dbname from configuration', async () => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: JSON.stringify({ username: 'u', password: 'p' }) });
    const t = await targetFromSecret(new SecretsManagerClient({}), 'arn:secret', {
      host: 'h',
      database: 'app',
    });
    expect(t).toMatchObject({ host: 'h', database: 'app', user: 'u' });
  });

  test('missing fields are named, and the secret value never appears in the error', async () => {
    sm.on(GetSecretValueCommand).resolves({
      SecretString: JSON.stringify({ username: 'u', password: 'hunter2' }),
    });
    const err = await targetFromSecret(new SecretsManagerClient({}), 'arn:secret').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toBe('Database secret arn:secret lacks host, dbname');
    expect(JSON.stringify(err) + String(err)).not.toContain('hunter2');
  });

  test('a missing secret is a ConfigurationError naming it', async () => {
    sm.on(GetSecretValueCommand).rejects(
      Object.assign(new Error('not found'), { name: 'ResourceNotFoundException' }),
    );
    await expect(targetFromSecret(new SecretsManagerClient({}), 'arn:gone')).rejects.toThrow(
      'Cannot read database secret arn:gone: ResourceNotFoundException',
    );
  });
});
