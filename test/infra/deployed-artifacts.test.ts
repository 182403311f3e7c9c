/**
 * The parts that make the workflow tests run what deploys (bin/cli/function-host.ts, aws-gateway.ts,
 * local-deployment.ts), checked on small functions of their own: a function sees only its asset and its
 * environment, times out as Lambda does, and the recorded AWS requests are IAM-simulated for real.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { AwsGateway, s3Authorizations } from '../../bin/cli/aws-gateway';
import { buildSync } from 'esbuild';
import {
  FunctionError,
  FunctionHost,
  threadRefusal,
  type FunctionHostOptions,
} from '../../bin/cli/function-host';
import { assembleImage } from '../../bin/cli/local-deployment';
import type { CfnTemplate } from '../../bin/cli/local-runner';
import { deniedAuthorizations } from '../helpers/iam-simulation';

function asset(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-asset-test-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

/** Runs `use` with a FunctionHost of these options, and ends its environment whatever happens. */
async function withFunctionHost<T>(
  options: FunctionHostOptions,
  use: (host: FunctionHost) => Promise<T>,
): Promise<T> {
  const host = new FunctionHost(options);
  try {
    return await use(host);
  } finally {
    await host.stop();
  }
}

const ECHO = `
exports.handler = async (event, context) => ({
  event,
  env: { leaked: process.env.PGSHIFT_PARENT_ONLY ?? null, mine: process.env.MINE, root: process.env.LAMBDA_TASK_ROOT },
  remaining: context.getRemainingTimeInMillis(),
  pid: process.pid,
  canResolvePg: (() => { try { require.resolve('pg'); return true; } catch { return false; } })(),
});
exports.fail = async () => { const e = new Error('the database refused'); e.name = 'LockTimeoutError'; throw e; };
exports.hang = () => new Promise(() => {});
exports.wholeEnv = async () => ({
  env: { ...process.env },
  child: require('node:child_process').execFileSync(process.execPath, ['-e', 'process.stdout.write(JSON.stringify(process.env))'], { encoding: 'utf8' }),
  threadId: require('node:worker_threads').threadId,
  pid: process.pid,
});
`;

describe('FunctionHost: a function runs as Lambda runs it', () => {
  const root = asset({ 'index.js': ECHO });

  test('only its own environment and asset: nothing of the parent process or the repository leaks in', async () => {
    process.env.PGSHIFT_PARENT_ONLY = 'parent';
    const host = new FunctionHost({
      name: 'Echo',
      taskRoot: root,
      handler: 'index.handler',
      env: { MINE: 'yes' },
      timeoutSeconds: 10,
    });
    try {
      const out = (await host.invoke({ a: 1, at: new Date(0) })) as Record<string, unknown>;
      expect(out.event).toEqual({ a: 1, at: '1970-01-01T00:00:00.000Z' });
      expect(out.env).toEqual({ leaked: null, mine: 'yes', root });
      expect(out.canResolvePg).toBe(false);
      expect(out.remaining).toBeGreaterThan(8000);
      // Warm: the second invocation reuses the environment.
      const again = (await host.invoke({})) as { pid: number };
      expect(again.pid).toBe(out.pid);
    } finally {
      delete process.env.PGSHIFT_PARENT_ONLY;
      await host.stop();
    }
  });

  test("a thrown error keeps its name (what a state's Retry/Catch matches)", async () => {
    const host = new FunctionHost({
      name: 'Echo',
      taskRoot: root,
      handler: 'index.fail',
      env: {},
      timeoutSeconds: 10,
    });
    try {
      await expect(host.invoke({})).rejects.toMatchObject({
        name: 'LockTimeoutError',
        message: 'the database refused',
      });
    } finally {
      await host.stop();
    }
  });

  test('a handler missing from the asset is Runtime.ImportModuleError / HandlerNotFound', async () => {
    const missing = new FunctionHost({
      name: 'X',
      taskRoot: root,
      handler: 'nothere.handler',
      env: {},
      timeoutSeconds: 10,
    });
    const unexported = new FunctionHost({
      name: 'X',
      taskRoot: root,
      handler: 'index.nope',
      env: {},
      timeoutSeconds: 10,
    });
    try {
      await expect(missing.invoke({})).rejects.toMatchObject({ name: 'Runtime.ImportModuleError' });
      await expect(unexported.invoke({})).rejects.toMatchObject({ name: 'Runtime.HandlerNotFound' });
    } finally {
      await missing.stop();
      await unexported.stop();
    }
  });

  test("in a worker thread, the function's whole process.env is the template's, and so is what it spawns", async () => {
    process.env.PGSHIFT_PARENT_ONLY = 'parent';
    const env = {
      MINE: 'yes',
      TZ: ':UTC',
      NODE_OPTIONS: '--enable-source-maps',
      PATH: process.env.PATH ?? '',
    };
    const host = new FunctionHost({
      name: 'Echo',
      taskRoot: root,
      handler: 'index.wholeEnv',
      env,
      timeoutSeconds: 10,
      nodeArgs: ['--max-semi-space-size=2'],
      isolation: 'thread',
    });
    try {
      expect(host.isolation).toBe('thread');
      const out = (await host.invoke({})) as { env: object; child: string; threadId: number; pid: number };
      expect(out.pid).toBe(process.pid);
      expect(out.threadId).toBeGreaterThan(0);
      const expected = { ...env, LAMBDA_TASK_ROOT: root, _HANDLER: 'index.wholeEnv' };
      expect(out.env).toEqual(expected);
      expect(JSON.parse(out.child)).toEqual(expected);
    } finally {
      delete process.env.PGSHIFT_PARENT_ONLY;
      await host.stop();
    }
  });

  test('a function whose environment needs a process of its own gets one, even when threads are asked for', async () => {
    const needsProcess = new FunctionHost({
      name: 'Echo',
      taskRoot: root,
      handler: 'index.handler',
      env: { MINE: 'yes', NODE_OPTIONS: '--max-old-space-size=64' },
      timeoutSeconds: 10,
      isolation: 'thread',
    });
    try {
      expect(threadRefusal({ TZ: 'Pacific/Auckland' })).toMatch(/TZ Pacific\/Auckland/);
      expect(threadRefusal({ NODE_OPTIONS: '--enable-source-maps' })).toBeUndefined();
      expect(needsProcess.isolation).toBe('process');
      const out = (await needsProcess.invoke({})) as { pid: number; env: object };
      expect(out.pid).not.toBe(process.pid);
      expect(out.env).toEqual({ leaked: null, mine: 'yes', root });
    } finally {
      await needsProcess.stop();
    }
  });

  test.each(['process', 'thread'] as const)(
    'the timeout ends the environment (%s) with Sandbox.Timedout; the next invocation starts a fresh one',
    async (isolation) => {
      const hang = new FunctionHost({
        name: 'Hang',
        taskRoot: root,
        handler: 'index.hang',
        env: {},
        timeoutSeconds: 1,
        isolation,
      });
      try {
        expect(hang.isolation).toBe(isolation);
        await expect(hang.invoke({})).rejects.toMatchObject({ name: 'Sandbox.Timedout' });
        await expect(hang.invoke({})).rejects.toMatchObject({ name: 'Sandbox.Timedout' });
      } finally {
        await hang.stop();
      }
    },
  );
});

describe("FunctionHost's code cache: a cold start reuses V8's compiled code, never other code's", () => {
  const root = asset({ 'index.js': ECHO });

  test.each(['process', 'thread'] as const)(
    'in a %s: compiled and cached on the first cold start, loaded from the cache on the next, and a cache of other code is rejected and rewritten',
    async (isolation) => {
      const codeCacheDir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-code-cache-test-'));
      const coldStart = (): Promise<{ use: string | undefined; out: Record<string, unknown> }> =>
        withFunctionHost(
          {
            name: 'Echo',
            taskRoot: root,
            handler: 'index.handler',
            env: { MINE: 'yes' },
            timeoutSeconds: 10,
            isolation,
            codeCacheDir,
          },
          async (host) => {
            const out = (await host.invoke({ a: 1 })) as Record<string, unknown>;
            return { use: host.codeCache, out };
          },
        );
      const first = await coldStart();
      expect(first.use).toBe('miss');
      const files = readdirSync(codeCacheDir);
      expect(files).toHaveLength(1);
      const cacheFile = path.join(codeCacheDir, files[0] ?? '');
      const second = await coldStart();
      expect(second.use).toBe('hit');
      // The same code ran: same answer, same environment, and `require` inside resolves from the asset alone.
      expect({ ...second.out, pid: 0, remaining: 0 }).toEqual({ ...first.out, pid: 0, remaining: 0 });
      expect(second.out.env).toEqual({ leaked: null, mine: 'yes', root });
      expect(second.out.canResolvePg).toBe(false);
      writeFileSync(cacheFile, 'not V8 code');
      const third = await coldStart();
      expect(third.use).toBe('rejected');
      expect(third.out.event).toEqual({ a: 1 });
      expect(readFileSync(cacheFile).length).toBeGreaterThan(100);
      expect((await coldStart()).use).toBe('hit');
    },
  );

  test.each(['process', 'thread'] as const)(
    "in a %s with --enable-source-maps, a trace from the cached bundle still names the TypeScript source's line",
    async (isolation) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-sourcemap-test-'));
      const entry = path.join(dir, 'handler.ts');
      writeFileSync(
        entry,
        [
          'export const handler = async (): Promise<never> => {',
          "  throw new Error('the database refused');",
          '};',
          '',
        ].join('\n'),
      );
      buildSync({
        entryPoints: [entry],
        bundle: true,
        platform: 'node',
        format: 'cjs',
        sourcemap: true,
        outfile: path.join(dir, 'out', 'index.js'),
        logLevel: 'silent',
      });
      const codeCacheDir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-code-cache-test-'));
      for (const expected of ['miss', 'hit']) {
        const thrower = {
          name: 'Thrower',
          taskRoot: path.join(dir, 'out'),
          handler: 'index.handler',
          env: { NODE_OPTIONS: '--enable-source-maps' },
          timeoutSeconds: 10,
          isolation,
          codeCacheDir,
        };
        await withFunctionHost(thrower, async (host) => {
          const err: unknown = await host.invoke({}).catch((e: unknown) => e);
          expect(err).toBeInstanceOf(FunctionError);
          expect((err as FunctionError).trace.join('\n')).toMatch(/handler\.ts:2:9/);
          expect(host.codeCache).toBe(expected);
        });
      }
    },
  );

  test('without a cache folder the module is required as Node does, and nothing is written', async () => {
    const echo = { name: 'Echo', taskRoot: root, handler: 'index.handler', env: {}, timeoutSeconds: 10 };
    await withFunctionHost(echo, async (host) => {
      await host.invoke({});
      expect(host.codeCache).toBe('off');
    });
  });
});

describe('assembleImage: the image tree is what the Dockerfile COPYs from the image asset', () => {
  test('COPY lines place the asset files; COPY --from is refused', () => {
    const good = asset({
      Dockerfile:
        'FROM public.ecr.aws/lambda/nodejs:24\nENV PGSHIFT_PG_BIN=/usr/bin\nCOPY build/ ${LAMBDA_TASK_ROOT}/\nCMD ["backup/handler.handler"]\n',
      'build/backup/handler.js': 'exports.handler = async () => 1;',
    });
    const into = mkdtempSync(path.join(os.tmpdir(), 'pgshift-image-test-'));
    const tree = assembleImage(good, 'Dockerfile', into);
    expect(tree.taskRoot).toBe(path.join(into, 'var', 'task'));
    expect(require(path.join(tree.taskRoot, 'backup', 'handler.js'))).toHaveProperty('handler');
    expect(tree.cmd).toEqual(['backup/handler.handler']);
    expect(tree.env.PGSHIFT_PG_BIN).toBe('/usr/bin');
    const staged = asset({
      Dockerfile:
        'FROM node:24 AS build\nRUN true\nFROM public.ecr.aws/lambda/nodejs:24\nCOPY --from=build /out/ /var/task/\n',
    });
    expect(() => assembleImage(staged, 'Dockerfile', into)).toThrow(/COPY --from/);
  });
});

describe('AwsGateway + IAM simulation (control plane simulated, S3 forwarded)', () => {
  const bucket = 'pgshift-test';
  const role = 'arn:aws:iam::000000000000:role/StepsNotifyRole';
  const template: CfnTemplate = {
    Resources: {
      StepsNotifyRole: { Type: 'AWS::IAM::Role', Properties: {} },
      NotifyPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          Roles: ['StepsNotifyRole'],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/runs/*` },
            ],
          },
        },
      },
    },
  };

  test('the S3 request is forwarded as is and recorded as the authorization AWS evaluates', async () => {
    const seen: string[] = [];
    const store = http.createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      res.end('stored');
    });
    await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
    const gateway = new AwsGateway({
      storeEndpoint: `http://127.0.0.1:${(store.address() as AddressInfo).port}`,
    });
    try {
      const endpoint = await gateway.endpointFor(role, 'Notify');
      const res = await fetch(`${endpoint}/${bucket}/backups/app/x.dump`, {
        method: 'DELETE',
        headers: {
          authorization:
            'AWS4-HMAC-SHA256 Credential=AK/20261202/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x',
        },
      });
      expect(await res.text()).toBe('stored');
      expect(seen).toEqual([`DELETE /${bucket}/backups/app/x.dump`]);
      expect(gateway.calls.map((c) => c.operation)).toEqual(['DeleteObject']);
      const denied = await deniedAuthorizations(
        template,
        gateway.calls.flatMap((c) => c.authorizations),
      );
      expect(denied.map((d) => d.authorization.action)).toEqual(['s3:DeleteObject']);
      expect(denied[0]?.why).toMatch(
        /no statement of StepsNotifyRole's policies allows s3:DeleteObject on arn:aws:s3:::pgshift-test\/backups\/app\/x.dump/,
      );
    } finally {
      await gateway.close();
      store.close();
    }
  });

  test('large bodies are relayed byte for byte both ways, each on its own upstream connection, and the collector it uses for their buffers is never visible to a function', async () => {
    const body = randomBytes(20 * 1024 * 1024);
    const received: { sha256: string; bytes: number }[] = [];
    const store = http.createServer((req, res) => {
      const hash = createHash('sha256');
      let bytes = 0;
      req.on('data', (d: Buffer) => {
        hash.update(d);
        bytes += d.length;
      });
      req.on('end', () => {
        received.push({ sha256: hash.digest('hex'), bytes });
        res.end(req.method === 'GET' ? body : '');
      });
    });
    let connections = 0;
    store.on('connection', () => (connections += 1));
    await new Promise<void>((r) => store.listen(0, '127.0.0.1', r));
    const gateway = new AwsGateway({
      storeEndpoint: `http://127.0.0.1:${(store.address() as AddressInfo).port}`,
    });
    const authorization =
      'AWS4-HMAC-SHA256 Credential=AK/20261202/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=x';
    const host = new FunctionHost({
      name: 'Echo',
      taskRoot: asset({ 'index.js': 'exports.handler = async () => ({ gc: typeof globalThis.gc });' }),
      handler: 'index.handler',
      env: {},
      timeoutSeconds: 10,
      isolation: 'thread',
    });
    try {
      const endpoint = await gateway.endpointFor(role, 'Backup');
      const put = await fetch(`${endpoint}/${bucket}/backups/app/x.dump?partNumber=1&uploadId=u`, {
        method: 'PUT',
        headers: { authorization },
        body,
      });
      expect(put.status).toBe(200);
      const got = await fetch(`${endpoint}/${bucket}/backups/app/x.dump`, { headers: { authorization } });
      const back = Buffer.from(await got.arrayBuffer());
      const sha256 = createHash('sha256').update(body).digest('hex');
      expect(received[0]).toEqual({ sha256, bytes: body.length });
      expect(connections).toBe(2);
      expect(createHash('sha256').update(back).digest('hex')).toBe(sha256);
      expect(gateway.calls.map((c) => c.operation)).toEqual(['UploadPart', 'GetObject']);
      expect(await host.invoke({})).toEqual({ gc: 'undefined' });
      expect(typeof (globalThis as { gc?: unknown }).gc).toBe('undefined');
    } finally {
      await host.stop();
      await gateway.close();
      store.close();
    }
  });

  test('an allowed read is allowed; SSE-KMS writes need the key', async () => {
    const read = s3Authorizations(
      role,
      'GET',
      new URL(`http://g/${bucket}/runs/app/e/plan.json`),
      {},
      () => undefined,
    );
    expect(await deniedAuthorizations(template, read.authorizations)).toEqual([]);
    const write = s3Authorizations(
      role,
      'PUT',
      new URL(`http://g/${bucket}/runs/app/e/plan.json`),
      {
        'x-amz-server-side-encryption': 'aws:kms',
        'x-amz-server-side-encryption-aws-kms-key-id': 'arn:aws:kms:us-east-1:000000000000:key/k',
      },
      () => undefined,
    );
    expect(write.authorizations.map((a) => a.action)).toEqual(['s3:PutObject', 'kms:GenerateDataKey']);
    expect(write.authorizations[0]?.context['s3:x-amz-server-side-encryption']).toBe('aws:kms');
    const denied = await deniedAuthorizations(template, write.authorizations);
    expect(denied.map((d) => d.authorization.action)).toEqual(['s3:PutObject', 'kms:GenerateDataKey']);
  });

  test('Secrets Manager stand-in (mocked control plane): the one secret, ResourceNotFound for others', async () => {
    const gateway = new AwsGateway({
      storeEndpoint: 'http://127.0.0.1:9',
      secrets: [
        { arn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf', value: '{"password":"p"}' },
      ],
    });
    try {
      const endpoint = await gateway.endpointFor(role, 'Notify');
      const ask = (SecretId: string) =>
        fetch(endpoint, {
          method: 'POST',
          headers: {
            'x-amz-target': 'secretsmanager.GetSecretValue',
            'content-type': 'application/x-amz-json-1.1',
            authorization: 'AWS4-HMAC-SHA256 Credential=AK/20261202/us-east-1/secretsmanager/aws4_request',
          },
          body: JSON.stringify({ SecretId }),
        });
      const ok = await ask('arn:aws:secretsmanager:us-east-1:000000000000:secret:db-AbCdEf');
      expect(((await ok.json()) as { SecretString: string }).SecretString).toBe('{"password":"p"}');
      const missing = await ask('arn:aws:secretsmanager:us-east-1:000000000000:secret:other');
      expect(missing.status).toBe(400);
      expect(((await missing.json()) as { __type: string }).__type).toBe('ResourceNotFoundException');
      expect(gateway.calls.map((c) => c.authorizations[0]?.action)).toEqual([
        'secretsmanager:GetSecretValue',
        'secretsmanager:GetSecretValue',
      ]);
    } finally {
      await gateway.close();
    }
  });
});
