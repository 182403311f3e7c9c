/**
 * RDS-managed secrets rotate (every 7 days by default): a warm Lambda must not keep using the password it read
 * at cold start. The handler re-reads the secret once on an authentication failure (SQLSTATE 28P01), and
 * otherwise caches it for a bounded time.
 */
import { randomBytes } from 'node:crypto';
import { cachedTargetResolver, loadConfig } from '../../lambdas/shared/config';
import { quoteIdent, withClient } from '../../lambdas/shared/db';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import {
  freshDatabase,
  loadStepHandlers,
  rigInfo,
  rigStepEnv,
  rigTarget,
  type TestDatabase,
} from '../rig/helpers';
import { startSecretsStandIn, type SecretsStandIn } from '../rig/secrets-stand-in';

type Handler = (event: StepEvent) => Promise<StepOutput>;
const SECRET = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:pgshift-rotation-test';

describe('a rotated database password under a warm handler', () => {
  let db: TestDatabase;
  let secrets: SecretsStandIn;
  const role = `rot_${randomBytes(4).toString('hex')}`;
  const saved = { ...process.env };
  beforeAll(async () => {
    db = await freshDatabase('rot');
    secrets = await startSecretsStandIn();
    await withClient(rigTarget(), (c) =>
      c.query(
        `CREATE ROLE ${role} LOGIN PASSWORD 'first-password'; GRANT CONNECT ON DATABASE ${quoteIdent(db.name)} TO ${role}`,
      ),
    );
  });
  afterAll(async () => {
    process.env = saved;
    await secrets.close();
    await db.drop();
    await withClient(rigTarget(), (c) => c.query(`DROP ROLE IF EXISTS ${role}`));
  });

  const secretValue = (password: string) => ({
    engine: 'postgres',
    host: rigInfo().pg.host,
    port: rigInfo().pg.port,
    username: role,
    password,
    dbname: db.name,
  });
  const rotate = async (password: string, inSecret = true) => {
    await withClient(rigTarget(), (c) => c.query(`ALTER ROLE ${role} PASSWORD '${password}'`));
    if (inSecret) secrets.put(SECRET, secretValue(password));
  };

  test('the second invocation after a rotation re-reads the secret once and succeeds; a stale secret still fails clearly', async () => {
    // Prepare: one warm report handler reading its credentials from the secret.
    delete process.env.DATABASE_URL;
    secrets.put(SECRET, secretValue('first-password'));
    const { report } = loadStepHandlers<Handler, 'report'>(['report'], {
      ...rigStepEnv(),
      PGSHIFT_DB_SECRET_ARN: SECRET,
      PGSHIFT_DB_SSLMODE: 'disable',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_REGION: 'us-east-1',
    });
    const event: StepEvent = {
      input: { action: 'report', database: db.name },
      execution: { id: 'local-rotation-test' },
      results: {},
    };
    // Act + Assess: first invocation reads the secret.
    expect((await report(event)).ok).toBe(true);
    expect(secrets.reads(SECRET)).toBe(1);
    // Warm and unchanged: the cached credentials are used.
    expect((await report(event)).ok).toBe(true);
    expect(secrets.reads(SECRET)).toBe(1);
    // Rotated (database and secret): the handler fails to log in, re-reads once, and succeeds.
    await rotate('second-password');
    expect((await report(event)).ok).toBe(true);
    expect(secrets.reads(SECRET)).toBe(2);
    // Rotated in the database only (the secret not updated yet): one re-read, then the login failure itself.
    await rotate('third-password', false);
    await expect(report(event)).rejects.toMatchObject({
      name: 'DatabaseConnectionError',
      message: expect.stringMatching(/password authentication failed/),
    });
    expect(secrets.reads(SECRET)).toBe(3);
  });

  test('cached credentials are read again once the TTL has passed, and only then', async () => {
    // Prepare: the SDK reaches the stand-in through the endpoint variable the handler test set.
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = secrets.endpoint;
    process.env.AWS_REGION = 'us-east-1';
    const id = `${SECRET}-ttl`;
    secrets.put(id, secretValue('third-password'));
    let clock = 0;
    const config = loadConfig({ PGSHIFT_BUCKET: rigInfo().s3.bucket, PGSHIFT_DB_SECRET_ARN: id });
    const resolve = cachedTargetResolver(config, { ttlMs: 60_000, now: () => clock });
    // Act + Assess
    expect((await resolve()).password).toBe('third-password');
    clock = 59_999;
    await resolve();
    expect(secrets.reads(id)).toBe(1);
    secrets.put(id, secretValue('fourth-password'));
    clock = 60_000;
    expect((await resolve()).password).toBe('fourth-password');
    expect(secrets.reads(id)).toBe(2);
  });
});
