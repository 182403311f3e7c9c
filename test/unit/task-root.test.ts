import * as path from 'node:path';
import { loadConfig } from '../../lambdas/shared/config';
import { connect, rdsCaBundlePath } from '../../lambdas/shared/db';
import { taskRootPath } from '../../lambdas/shared/env';
import { ConfigurationError } from '../../lambdas/shared/errors';
import { squawkBinary } from '../../lambdas/migrate/lint/squawk';

/** Files a function opens are named relative to its task root (LAMBDA_TASK_ROOT), as Lambda runs the asset. */
describe('paths under the task root', () => {
  const base = { PGSHIFT_BUCKET: 'b', DATABASE_URL: 'postgres://u:p@h/d' };

  test('taskRootPath resolves against LAMBDA_TASK_ROOT, else the working directory; absolute paths stay', () => {
    expect(taskRootPath('certs/x.pem', { LAMBDA_TASK_ROOT: '/tmp/asset' })).toBe('/tmp/asset/certs/x.pem');
    expect(taskRootPath('certs/x.pem', {})).toBe(path.join(process.cwd(), 'certs/x.pem'));
    expect(taskRootPath('/etc/x.pem', { LAMBDA_TASK_ROOT: '/tmp/asset' })).toBe('/etc/x.pem');
  });

  test('the RDS CA bundle is certs/rds-global-bundle.pem in the task root', () => {
    expect(rdsCaBundlePath({ LAMBDA_TASK_ROOT: '/tmp/asset' })).toBe(
      '/tmp/asset/certs/rds-global-bundle.pem',
    );
  });

  test('a relative PGSHIFT_MIGRATIONS_DIR is read from the task root; an absolute one (the CLI) as is', () => {
    const rel = loadConfig({ ...base, LAMBDA_TASK_ROOT: '/tmp/asset', PGSHIFT_MIGRATIONS_DIR: 'migrations' });
    expect(rel.migrationsDir).toBe('/tmp/asset/migrations');
    const abs = loadConfig({
      ...base,
      LAMBDA_TASK_ROOT: '/tmp/asset',
      PGSHIFT_MIGRATIONS_DIR: '/srv/migrations',
    });
    expect(abs.migrationsDir).toBe('/srv/migrations');
  });

  test('a relative PGSHIFT_DB_SSLROOTCERT is read from the task root', () => {
    const env = { PGSHIFT_BUCKET: 'b', PGSHIFT_DB_SECRET_ARN: 'arn:s', LAMBDA_TASK_ROOT: '/tmp/asset' };
    const config = loadConfig({ ...env, PGSHIFT_DB_SSLROOTCERT: 'certs/ca.pem' });
    expect(config.database).toMatchObject({ kind: 'secret', sslRootCert: '/tmp/asset/certs/ca.pem' });
    expect(loadConfig(env).database).toMatchObject({ kind: 'secret', sslRootCert: undefined });
  });

  test('a relative PGSHIFT_SQUAWK_BIN is read from the task root', () => {
    expect(squawkBinary({ LAMBDA_TASK_ROOT: '/tmp/asset', PGSHIFT_SQUAWK_BIN: 'bin/squawk' })).toBe(
      '/tmp/asset/bin/squawk',
    );
    expect(squawkBinary({ LAMBDA_TASK_ROOT: '/tmp/asset', PGSHIFT_SQUAWK_BIN: '/opt/squawk' })).toBe(
      '/opt/squawk',
    );
  });

  test('verify-full without the CA bundle is a ConfigurationError naming the path, before any connection', async () => {
    const missing = '/tmp/pgshift-no-such-asset/certs/rds-global-bundle.pem';
    const target = {
      host: '127.0.0.1',
      port: 1,
      user: 'u',
      password: 'p',
      database: 'app',
      sslMode: 'verify-full' as const,
      sslRootCert: missing,
    };
    const err = await connect(target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigurationError);
    expect((err as Error).message).toContain(missing);
    expect((err as Error).message).toMatch(/sslmode=verify-full/);
  });
});
