import * as http from 'node:http';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { isRecord } from '../../lambdas/shared/is-record';
import { parseJsonRecord, stringField } from './json-shapes';

/**
 * The AWS endpoint of a local deployment. Every function (and the Fargate task) gets its own loopback
 * endpoint, so each request is attributed to the role that would sign it on AWS. Requests to services with a
 * local stand-in (S3, SNS, SQS: the S3-compatible store) are forwarded to it unchanged and streamed; the
 * control-plane services that have none are answered here and say so (Secrets Manager: the one database
 * secret; EventBridge Scheduler: schedules kept in memory and fired on time; Step Functions: the running
 * local executions). Each request is recorded as the IAM authorizations AWS would evaluate for it, SSE-KMS
 * and encrypted-topic key use included, for the IAM simulation (test/helpers/iam-simulation.ts).
 */

export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_REGION = 'us-east-1';

/** One authorization AWS evaluates: who, what, on which resource, with which condition keys. */
export interface Authorization {
  /** The role ARN that signs the request (or that a service assumes for it). */
  principal: string;
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

/** One request as made, with the authorizations it needs. */
export interface RecordedCall {
  caller: string;
  service: string;
  operation: string;
  status?: number;
  authorizations: Authorization[];
}

export interface GatewaySecret {
  arn: string;
  /** The SecretString (RDS JSON shape). */
  value: string;
  /** The secret's customer-managed key, when it has one (then kms:Decrypt is needed via Secrets Manager). */
  kmsKeyArn?: string;
}

/** An execution the Step Functions stand-in reports as RUNNING (its input as JSON text). */
export interface RunningExecution {
  executionArn: string;
  stateMachineArn: string;
  name: string;
  input: string;
}

export interface GatewayOptions {
  /** The S3/SNS/SQS stand-in's endpoint (http://127.0.0.1:port). */
  storeEndpoint: string;
  /** The SNS/SQS stand-in, when it is not the store. @default storeEndpoint */
  snsEndpoint?: string;
  secrets?: GatewaySecret[];
  /** The bucket's default SSE-KMS key, used when a write names none (the bucket's default encryption). */
  bucketKeys?: Record<string, string>;
  /** Topic ARN → its KMS key ARN (publishing to an encrypted topic needs that key). */
  topicKeys?: Record<string, string>;
  /** Executions the Step Functions stand-in reports as RUNNING. */
  runningExecutions?: () => RunningExecution[];
  /** How long to wait before firing a schedule: tests shorten it. @default the schedule's own time */
  scheduleDelayMs?: (at: Date) => number;
}

export interface Schedule {
  name: string;
  group: string;
  expression: string;
  target: { Arn: string; RoleArn: string; Input?: string };
  createdBy: string;
  fired: boolean;
  timer?: NodeJS.Timeout;
}

const GATEWAY_CLOSED = 'local gateway: closed (the deployment has stopped)';

/** Bytes relayed between two young-generation collections (one 8 MiB part). */
const RELAY_BYTES_PER_SCAVENGE = 8 * 1024 * 1024;

/**
 * V8's minor (young-generation) collection, made callable without exposing `gc` anywhere: `--expose-gc` is
 * set just long enough to read `gc` from a fresh context, then unset, so no context created later (a
 * function's worker thread) has it. Undefined if this V8 refuses.
 */
function minorCollector(): (() => void) | undefined {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    if (!isCollector(gc)) return undefined;
    return () => gc({ type: 'minor' });
  } catch {
    return undefined;
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
}

function isCollector(gc: unknown): gc is (options: { type: 'minor' | 'major' }) => void {
  return typeof gc === 'function';
}

/**
 * Counts the body bytes the gateway relays and collects the young generation every 8 MiB. Why: every socket
 * read is a fresh 64 KiB buffer outside V8's heap, and their small JS wrappers barely fill the young
 * generation, so V8 frees them only when their external memory reaches its own limit (~64 MB). For the
 * relayed parts of a backup that was up to ~16 MB of dead buffers at a time in the CLI (docs/performance.md,
 * "pgshift local memory"); a scavenge per part costs about a millisecond.
 */
class RelayGarbage {
  private collector: (() => void) | null | undefined = null;
  private sinceScavenge = 0;

  /** Counts every chunk `body` relays. */
  watch(body: NodeJS.ReadableStream): void {
    body.on('data', (chunk: Buffer) => this.relayed(chunk.length));
  }

  private relayed(bytes: number): void {
    this.sinceScavenge += bytes;
    if (this.sinceScavenge < RELAY_BYTES_PER_SCAVENGE) return;
    this.sinceScavenge = 0;
    if (this.collector === null) this.collector = minorCollector();
    this.collector?.();
  }
}

function credentialScope(req: http.IncomingMessage): { service?: string } {
  const auth = req.headers.authorization ?? '';
  const m = /Credential=[^/]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(auth);
  return { service: m?.[1] };
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const via = (service: string) => `${service}.${LOCAL_REGION}.amazonaws.com`;

/** What an S3 request's authorizations are made of: its bucket and key, and how each authorization reads. */
interface S3Request {
  method: string;
  headers: http.IncomingHttpHeaders;
  q: URLSearchParams;
  bucket: string;
  key: string;
  bucketArn: string;
  objectArn: string;
  auth: (action: string, resource: string, context?: Record<string, string | string[]>) => Authorization;
  /** The KMS authorization S3 makes on the caller's behalf for `keyArn` (none without a key). */
  kms: (action: string, keyArn: string | undefined) => Authorization[];
  /** The request's SSE headers as the condition keys a bucket policy reads. */
  sse: () => Record<string, string>;
  /** The key a write encrypts with: the one the request names, else the bucket's default. */
  writeKey: () => string | undefined;
  keyOf: (bucket: string, key: string) => string | undefined;
}

interface S3Authorized {
  operation: string;
  authorizations: Authorization[];
}

/** What AWS authorizes for an S3 request (path-style, as pgshift's client sends to an endpoint). */
export function s3Authorizations(
  principal: string,
  method: string,
  url: URL,
  headers: http.IncomingHttpHeaders,
  keyOf: (bucket: string, key: string) => string | undefined,
): S3Authorized {
  const [, bucket = '', ...rest] = decodeURIComponent(url.pathname).split('/');
  const key = rest.join('/');
  const q = url.searchParams;
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = `${bucketArn}/${key}`;
  const auth = (action: string, resource: string, context: Record<string, string | string[]> = {}) => ({
    principal,
    action,
    resource,
    context: { 'aws:SecureTransport': 'true', ...context },
  });
  const kms = (action: string, keyArn: string | undefined): Authorization[] =>
    keyArn
      ? [
          {
            principal,
            action,
            resource: keyArn,
            context: { 'kms:ViaService': via('s3'), 'kms:CallerAccount': LOCAL_ACCOUNT },
          },
        ]
      : [];
  const sse = (): Record<string, string> => {
    const out: Record<string, string> = {};
    const alg = headers['x-amz-server-side-encryption'];
    const keyId = headers['x-amz-server-side-encryption-aws-kms-key-id'];
    if (typeof alg === 'string') out['s3:x-amz-server-side-encryption'] = alg;
    if (typeof keyId === 'string') out['s3:x-amz-server-side-encryption-aws-kms-key-id'] = keyId;
    return out;
  };
  const writeKey = (): string | undefined => {
    const keyId = headers['x-amz-server-side-encryption-aws-kms-key-id'];
    return typeof keyId === 'string' ? keyId : keyOf(bucket, '');
  };
  const r = { method, headers, q, bucket, key, bucketArn, objectArn, auth, kms, sse, writeKey, keyOf };
  return key ? objectRequestAuthorizations(r) : bucketRequestAuthorizations(r);
}

function bucketRequestAuthorizations({ method, q, bucketArn, auth }: S3Request): S3Authorized {
  if (method === 'GET' && q.has('versions')) {
    return { operation: 'ListObjectVersions', authorizations: [auth('s3:ListBucketVersions', bucketArn)] };
  }
  if (method === 'GET' && q.has('location')) {
    return { operation: 'GetBucketLocation', authorizations: [auth('s3:GetBucketLocation', bucketArn)] };
  }
  if (method === 'POST' && q.has('delete')) {
    return { operation: 'DeleteObjects', authorizations: [auth('s3:DeleteObject', `${bucketArn}/*`)] };
  }
  if (method === 'GET' || method === 'HEAD') {
    const prefix = q.get('prefix');
    return {
      operation: method === 'HEAD' ? 'HeadBucket' : 'ListObjectsV2',
      authorizations: [auth('s3:ListBucket', bucketArn, prefix !== null ? { 's3:prefix': prefix } : {})],
    };
  }
  return { operation: `${method} bucket`, authorizations: [auth(`s3:Unknown${method}Bucket`, bucketArn)] };
}

function objectRequestAuthorizations(r: S3Request): S3Authorized {
  const { method, headers, q, bucket, key, objectArn, auth, kms, sse, writeKey, keyOf } = r;
  switch (method) {
    case 'GET':
      return {
        operation: 'GetObject',
        authorizations: [
          auth(q.has('versionId') ? 's3:GetObjectVersion' : 's3:GetObject', objectArn),
          ...kms('kms:Decrypt', keyOf(bucket, key)),
        ],
      };
    case 'HEAD':
      return { operation: 'HeadObject', authorizations: [auth('s3:GetObject', objectArn)] };
    case 'PUT': {
      if (q.has('uploadId')) {
        return { operation: 'UploadPart', authorizations: [auth('s3:PutObject', objectArn)] };
      }
      const source = headers['x-amz-copy-source'];
      const copy: Authorization[] = [];
      if (typeof source === 'string') {
        const src = decodeURIComponent(source.replace(/^\//, '')).split('?')[0];
        copy.push(auth('s3:GetObject', `arn:aws:s3:::${src}`));
      }
      return {
        operation: copy.length ? 'CopyObject' : 'PutObject',
        authorizations: [
          auth('s3:PutObject', objectArn, sse()),
          ...copy,
          ...kms('kms:GenerateDataKey', writeKey()),
        ],
      };
    }
    case 'POST':
      if (q.has('uploads')) {
        return {
          operation: 'CreateMultipartUpload',
          authorizations: [auth('s3:PutObject', objectArn, sse()), ...kms('kms:GenerateDataKey', writeKey())],
        };
      }
      if (q.has('uploadId')) {
        // Completing an SSE-KMS multipart upload decrypts the parts (S3's documented kms:Decrypt need).
        return {
          operation: 'CompleteMultipartUpload',
          authorizations: [auth('s3:PutObject', objectArn), ...kms('kms:Decrypt', keyOf(bucket, key))],
        };
      }
      return { operation: 'POST object', authorizations: [auth('s3:UnknownPostObject', objectArn)] };
    case 'DELETE':
      if (q.has('uploadId')) {
        return {
          operation: 'AbortMultipartUpload',
          authorizations: [auth('s3:AbortMultipartUpload', objectArn)],
        };
      }
      return { operation: 'DeleteObject', authorizations: [auth('s3:DeleteObject', objectArn)] };
    default:
      return { operation: `${method} object`, authorizations: [auth(`s3:Unknown${method}`, objectArn)] };
  }
}

/** The Scheduler API operation of a request to `/schedules/<name>`. */
function schedulerOperation(method: string): string {
  if (method === 'POST') return 'CreateSchedule';
  if (method === 'DELETE') return 'DeleteSchedule';
  if (method === 'GET') return 'GetSchedule';
  return `${method}Schedule`;
}

/** A CreateSchedule `Target` as sent (its other fields kept), when it names an ARN and a role. */
function scheduleTarget(value: unknown): Schedule['target'] | undefined {
  const arn = stringField(value, 'Arn');
  const roleArn = stringField(value, 'RoleArn');
  if (!isRecord(value) || arn === undefined || roleArn === undefined) return undefined;
  return { ...value, Arn: arn, RoleArn: roleArn, Input: stringField(value, 'Input') };
}

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  type = 'application/x-amz-json-1.1',
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function awsError(res: http.ServerResponse, status: number, type: string, message: string): void {
  res.setHeader('x-amzn-errortype', type);
  json(res, status, { __type: type, message, Message: message });
}

/** See the module comment. */
export class AwsGateway {
  readonly calls: RecordedCall[] = [];
  readonly schedules = new Map<string, Schedule>();
  /** Objects' SSE-KMS keys as written through the gateway (what a later GetObject needs to decrypt). */
  private readonly objectKeys = new Map<string, string>();
  private readonly servers: http.Server[] = [];
  private closed = false;
  private readonly garbage = new RelayGarbage();
  private readonly store: URL;
  private readonly sns: URL;

  constructor(private readonly options: GatewayOptions) {
    this.store = new URL(options.storeEndpoint);
    this.sns = new URL(options.snsEndpoint ?? options.storeEndpoint);
  }

  private keyOf(bucket: string, key: string): string | undefined {
    return this.objectKeys.get(`${bucket}/${key}`) ?? this.options.bucketKeys?.[bucket];
  }

  /** Starts an endpoint whose requests are made as `principal` (a role ARN). */
  async endpointFor(principal: string, caller: string): Promise<string> {
    if (this.closed) throw new Error(GATEWAY_CLOSED);
    const server = http.createServer((req, res) => {
      this.handle(principal, caller, req, res).catch((err: Error) => {
        if (!res.headersSent) awsError(res, 500, 'InternalFailure', `local gateway: ${err.message}`);
        else res.destroy(err);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    if (this.closed) {
      // Closed while this endpoint was opening: a listener left now would keep the process alive.
      server.close();
      throw new Error(GATEWAY_CLOSED);
    }
    this.servers.push(server);
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('local gateway: no TCP address');
    return `http://127.0.0.1:${address.port}`;
  }

  private record(call: RecordedCall): RecordedCall {
    this.calls.push(call);
    return call;
  }

  private async handle(
    principal: string,
    caller: string,
    req: http.IncomingMessage,
    res: http.ServerResponse,
  ): Promise<void> {
    const { service } = credentialScope(req);
    const url = new URL(req.url ?? '/', 'http://gateway');
    const target = String(req.headers['x-amz-target'] ?? '');
    if (service === 's3') {
      const { operation, authorizations } = s3Authorizations(
        principal,
        req.method ?? 'GET',
        url,
        req.headers,
        (b, k) => this.keyOf(b, k),
      );
      const call = this.record({ caller, service, operation, authorizations });
      await this.forward(this.store, req, res, undefined, (status) => {
        call.status = status;
        const keyId = req.headers['x-amz-server-side-encryption-aws-kms-key-id'];
        if (
          status < 300 &&
          typeof keyId === 'string' &&
          (operation === 'PutObject' || operation === 'CreateMultipartUpload')
        ) {
          const [, bucket, ...rest] = decodeURIComponent(url.pathname).split('/');
          this.objectKeys.set(`${bucket}/${rest.join('/')}`, keyId);
        }
      });
      return;
    }
    const body = await readBody(req);
    if (service === 'sns' || service === 'sqs') {
      const params = this.queryParams(req, body);
      const action = params.Action ?? target.split('.').pop() ?? 'Unknown';
      const authorizations: Authorization[] = [];
      if (service === 'sns' && action === 'Publish') {
        authorizations.push(...this.publishAuthorizations(principal, params.TopicArn ?? ''));
      } else {
        authorizations.push({
          principal,
          action: `${service}:${action}`,
          resource: params.TopicArn ?? params.QueueUrl ?? '*',
          context: {},
        });
      }
      const call = this.record({ caller, service, operation: action, authorizations });
      await this.forward(this.sns, req, res, body, (status) => (call.status = status));
      return;
    }
    if (service === 'secretsmanager') {
      this.secretsManager(principal, caller, target, body, res);
      return;
    }
    if (service === 'scheduler') {
      this.scheduler(principal, caller, req.method ?? 'GET', url, body, res);
      return;
    }
    if (service === 'states') {
      this.stepFunctions(principal, caller, target, body, res);
      return;
    }
    this.record({
      caller,
      service: service ?? 'unknown',
      operation: target || req.method || '?',
      authorizations: [],
      status: 501,
    });
    awsError(
      res,
      501,
      'NotImplemented',
      `local gateway: ${service ?? 'an unsigned'} request (${target || `${req.method} ${url.pathname}`}) has no local stand-in`,
    );
  }

  private queryParams(req: http.IncomingMessage, body: Buffer): Record<string, string> {
    const type = String(req.headers['content-type'] ?? '');
    if (type.includes('json')) {
      try {
        const params = parseJsonRecord(body.toString('utf8') || '{}');
        return Object.fromEntries(
          Object.entries(params).filter((e): e is [string, string] => typeof e[1] === 'string'),
        );
      } catch {
        return {};
      }
    }
    return Object.fromEntries(new URLSearchParams(body.toString('utf8')));
  }

  /** sns:Publish, and the topic key's use that an encrypted topic needs from the publisher. */
  publishAuthorizations(principal: string, topicArn: string): Authorization[] {
    const out: Authorization[] = [
      { principal, action: 'sns:Publish', resource: topicArn, context: { 'aws:SecureTransport': 'true' } },
    ];
    const key = this.options.topicKeys?.[topicArn];
    if (key) {
      for (const action of ['kms:GenerateDataKey', 'kms:Decrypt']) {
        out.push({
          principal,
          action,
          resource: key,
          context: { 'kms:ViaService': via('sns'), 'kms:CallerAccount': LOCAL_ACCOUNT },
        });
      }
    }
    return out;
  }

  private forward(
    to: URL,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    body: Buffer | undefined,
    onStatus: (status: number) => void,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: to.host };
      const upstream = http.request(
        {
          host: to.hostname,
          port: to.port,
          method: req.method,
          path: req.url,
          headers,
          // One upstream connection per forwarded request, never a pooled keep-alive socket: with Node 20's
          // pooled sockets, a function's first request on a new gateway listener was sometimes read off the
          // socket but never parsed, until the idle upstream socket's 5 s keep-alive timeout closed both
          // (seen with functions in worker threads, after a backup). On loopback a connection costs ~0.1 ms.
          agent: false,
        },
        (up) => {
          onStatus(up.statusCode ?? 0);
          res.writeHead(up.statusCode ?? 502, up.headers);
          this.garbage.watch(up);
          up.pipe(res);
          // A client that goes away mid-download (a function's thread or process ended while a response was
          // streaming to it) must not leave the stand-in's response paused for ever: its socket would keep
          // the CLI from exiting.
          res.on('close', () => {
            if (!up.complete) upstream.destroy();
          });
          up.on('end', resolve);
          up.on('error', reject);
        },
      );
      upstream.on('error', reject);
      // A client that goes away mid-upload must not leave the stand-in waiting.
      req.on('aborted', () => upstream.destroy());
      if (body) upstream.end(body);
      else {
        this.garbage.watch(req);
        req.pipe(upstream);
      }
    });
  }

  private secretsManager(
    principal: string,
    caller: string,
    target: string,
    body: Buffer,
    res: http.ServerResponse,
  ): void {
    const operation = target.split('.').pop() ?? '';
    const params = { SecretId: stringField(parseJsonRecord(body.toString('utf8') || '{}'), 'SecretId') };
    const secret = this.options.secrets?.find(
      (s) => s.arn === params.SecretId || s.arn.split(':').slice(-1)[0] === params.SecretId,
    );
    const authorizations: Authorization[] = [
      {
        principal,
        action: `secretsmanager:${operation}`,
        resource: secret?.arn ?? String(params.SecretId),
        context: {},
      },
    ];
    if (secret?.kmsKeyArn) {
      authorizations.push({
        principal,
        action: 'kms:Decrypt',
        resource: secret.kmsKeyArn,
        context: { 'kms:ViaService': via('secretsmanager') },
      });
    }
    const call = this.record({ caller, service: 'secretsmanager', operation, authorizations });
    if (operation !== 'GetSecretValue') {
      call.status = 400;
      awsError(
        res,
        400,
        'InvalidRequestException',
        `local Secrets Manager stand-in answers GetSecretValue only, not ${operation}`,
      );
      return;
    }
    if (!secret) {
      call.status = 400;
      awsError(res, 400, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
      return;
    }
    call.status = 200;
    json(res, 200, {
      ARN: secret.arn,
      Name: secret.arn.split(':').slice(-1)[0],
      SecretString: secret.value,
      VersionId: 'local',
      VersionStages: ['AWSCURRENT'],
      CreatedDate: 0,
    });
  }

  private scheduler(
    principal: string,
    caller: string,
    method: string,
    url: URL,
    body: Buffer,
    res: http.ServerResponse,
  ): void {
    const m = /^\/schedules\/([^/]+)$/.exec(url.pathname);
    if (!m?.[1]) {
      this.record({
        caller,
        service: 'scheduler',
        operation: `${method} ${url.pathname}`,
        authorizations: [],
        status: 501,
      });
      awsError(res, 501, 'NotImplemented', `local Scheduler stand-in: ${method} ${url.pathname}`);
      return;
    }
    const name = decodeURIComponent(m[1]);
    const params = body.length ? parseJsonRecord(body.toString('utf8')) : {};
    const target = scheduleTarget(params.Target);
    const group = stringField(params, 'GroupName') ?? url.searchParams.get('groupName') ?? 'default';
    const arn = `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule/${group}/${name}`;
    const operation = schedulerOperation(method);
    const authorizations: Authorization[] = [
      { principal, action: `scheduler:${operation}`, resource: arn, context: {} },
    ];
    if (operation === 'CreateSchedule' && target?.RoleArn) {
      authorizations.push({
        principal,
        action: 'iam:PassRole',
        resource: target.RoleArn,
        context: { 'iam:PassedToService': 'scheduler.amazonaws.com' },
      });
    }
    const call = this.record({ caller, service: 'scheduler', operation, authorizations });
    const schedule = { id: `${group}/${name}`, name, group, arn };
    if (operation === 'CreateSchedule') {
      this.createSchedule(call, res, schedule, stringField(params, 'ScheduleExpression') ?? '', target);
      return;
    }
    const existing = this.schedules.get(schedule.id);
    if (!existing) {
      call.status = 404;
      awsError(res, 404, 'ResourceNotFoundException', `Schedule ${name} does not exist.`);
      return;
    }
    call.status = 200;
    if (operation === 'DeleteSchedule') {
      clearTimeout(existing.timer);
      this.schedules.delete(schedule.id);
      json(res, 200, {}, 'application/json');
      return;
    }
    json(
      res,
      200,
      {
        Arn: arn,
        Name: name,
        GroupName: group,
        ScheduleExpression: existing.expression,
        Target: existing.target,
      },
      'application/json',
    );
  }

  private createSchedule(
    call: RecordedCall,
    res: http.ServerResponse,
    where: { id: string; name: string; group: string; arn: string },
    expression: string,
    target: Schedule['target'] | undefined,
  ): void {
    if (this.schedules.has(where.id)) {
      call.status = 409;
      awsError(res, 409, 'ConflictException', `Schedule ${where.name} already exists.`);
      return;
    }
    // The service requires a target with its ARN and role; a schedule without one could never fire.
    if (!target) {
      call.status = 400;
      awsError(res, 400, 'ValidationException', 'Target with Arn and RoleArn is required.');
      return;
    }
    const schedule: Schedule = {
      name: where.name,
      group: where.group,
      expression,
      target,
      createdBy: call.caller,
      fired: false,
    };
    this.schedules.set(where.id, schedule);
    this.arm(where.id, schedule);
    call.status = 200;
    json(res, 200, { ScheduleArn: where.arn }, 'application/json');
  }

  /** Fires a one-time `at(...)` schedule whose target is SNS Publish, as the scheduler role. */
  private arm(id: string, schedule: Schedule): void {
    const at = /^at\((.+)\)$/.exec(schedule.expression);
    if (!at) return;
    const when = new Date(`${at[1]}Z`);
    const delay = this.options.scheduleDelayMs?.(when) ?? Math.max(0, when.getTime() - Date.now());
    schedule.timer = setTimeout(() => void this.fire(id, schedule), delay);
    schedule.timer.unref();
  }

  private async fire(id: string, schedule: Schedule): Promise<void> {
    if (schedule.target.Arn !== 'arn:aws:scheduler:::aws-sdk:sns:publish') return;
    const input = parseJsonRecord(schedule.target.Input ?? '{}');
    const role = schedule.target.RoleArn;
    const call = this.record({
      caller: `scheduler:${schedule.name}`,
      service: 'sns',
      operation: 'Publish',
      authorizations: this.publishAuthorizations(role, stringField(input, 'TopicArn') ?? ''),
    });
    const form = new URLSearchParams({ Action: 'Publish', Version: '2010-03-31' });
    for (const [k, v] of Object.entries(input)) if (typeof v === 'string') form.set(k, v);
    const res = await fetch(this.sns.href, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    }).catch(() => undefined);
    call.status = res?.status;
    schedule.fired = true;
    // ActionAfterCompletion DELETE: a fired one-time schedule removes itself.
    this.schedules.delete(id);
  }

  private stepFunctions(
    principal: string,
    caller: string,
    target: string,
    body: Buffer,
    res: http.ServerResponse,
  ): void {
    const operation = target.split('.').pop() ?? '';
    const request = parseJsonRecord(body.toString('utf8') || '{}');
    const params = {
      stateMachineArn: stringField(request, 'stateMachineArn'),
      executionArn: stringField(request, 'executionArn'),
    };
    const running = this.options.runningExecutions?.() ?? [];
    const resource = params.stateMachineArn ?? params.executionArn ?? '*';
    const call = this.record({
      caller,
      service: 'states',
      operation,
      authorizations: [{ principal, action: `states:${operation}`, resource, context: {} }],
    });
    call.status = 200;
    if (operation === 'ListExecutions') {
      json(
        res,
        200,
        {
          executions: running
            .filter((e) => e.stateMachineArn === params.stateMachineArn)
            .map((e) => ({
              executionArn: e.executionArn,
              stateMachineArn: e.stateMachineArn,
              name: e.name,
              status: 'RUNNING',
              startDate: Date.now() / 1000,
            })),
        },
        'application/x-amz-json-1.0',
      );
      return;
    }
    if (operation === 'DescribeExecution') {
      const found = running.find((e) => e.executionArn === params.executionArn);
      if (!found) {
        call.status = 400;
        awsError(res, 400, 'ExecutionDoesNotExist', `Execution Does Not Exist: '${params.executionArn}'`);
        return;
      }
      json(
        res,
        200,
        { ...found, status: 'RUNNING', startDate: Date.now() / 1000 },
        'application/x-amz-json-1.0',
      );
      return;
    }
    call.status = 400;
    awsError(
      res,
      400,
      'InvalidAction',
      `local Step Functions stand-in answers ListExecutions/DescribeExecution only, not ${operation}`,
    );
  }

  /** Closes every endpoint and cancels pending schedules. */
  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.schedules.values()) clearTimeout(s.timer);
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.closeAllConnections?.();
            s.close(() => resolve());
          }),
      ),
    );
    this.servers.length = 0;
  }
}
