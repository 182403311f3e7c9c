/**
 * A Secrets Manager stand-in for GetSecretValue (the only call pgshift makes), over the service's JSON
 * protocol: the SDK reaches it through AWS_ENDPOINT_URL_SECRETS_MANAGER. Secrets live in memory so a test
 * can rotate one between two invocations of a warm handler.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SecretsStandIn {
  endpoint: string;
  /** Replaces (or creates) a secret's SecretString, as a rotation does. */
  put: (secretId: string, value: Record<string, unknown>) => void;
  /** GetSecretValue calls served, per secret id. */
  reads: (secretId: string) => number;
  close: () => Promise<void>;
}

export async function startSecretsStandIn(): Promise<SecretsStandIn> {
  const secrets = new Map<string, { value: string; version: number }>();
  const reads = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const target = String(req.headers['x-amz-target'] ?? '');
      const { SecretId } = JSON.parse(body || '{}') as { SecretId?: string };
      const secret = SecretId ? secrets.get(SecretId) : undefined;
      res.setHeader('Content-Type', 'application/x-amz-json-1.1');
      if (target !== 'secretsmanager.GetSecretValue' || !SecretId || !secret) {
        res.statusCode = 400;
        res.end(
          JSON.stringify({
            __type: 'ResourceNotFoundException',
            message: `Secrets Manager can't find the specified secret (${target} ${SecretId ?? ''}).`,
          }),
        );
        return;
      }
      reads.set(SecretId, (reads.get(SecretId) ?? 0) + 1);
      res.end(
        JSON.stringify({
          ARN: SecretId,
          Name: SecretId.split(':').pop(),
          SecretString: secret.value,
          VersionId: `v${secret.version}`,
          VersionStages: ['AWSCURRENT'],
          CreatedDate: Date.now() / 1000,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    put: (id, value) =>
      secrets.set(id, { value: JSON.stringify(value), version: (secrets.get(id)?.version ?? 0) + 1 }),
    reads: (id) => reads.get(id) ?? 0,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
