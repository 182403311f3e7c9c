/**
 * S3's conditional writes, in front of the rig's S3 stand-in, which ignores If-None-Match on writes (fauxqs
 * 1.9 overwrites): a PutObject or CompleteMultipartUpload carrying `If-None-Match: *` is answered 412
 * PreconditionFailed when the key exists, as S3 answers it
 * (docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html). A stand-in for that one behaviour;
 * every other request passes through unchanged.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConditionalProxyOptions {
  /** Runs before a conditional write is checked, with its key: a test lets another writer take the key. */
  beforeCreate?: (key: string) => Promise<void>;
  /**
   * The first conditional write of each key goes through, but its client is answered 500 (a response lost on
   * the way back); the client's retry then finds the key taken.
   */
  loseFirstResponse?: boolean;
}

export interface ConditionalProxy {
  endpoint: string;
  /** The keys of the conditional writes refused with 412, in order. */
  refused: string[];
  /** Responses dropped (loseFirstResponse), by key. */
  lost: string[];
  /** AbortMultipartUpload requests that passed through. */
  aborts: number;
  close: () => Promise<void>;
}

const PRECONDITION_FAILED =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code>' +
  '<Message>At least one of the pre-conditions you specified did not hold</Message>' +
  '<Condition>If-None-Match</Condition><RequestId>conditional-proxy</RequestId></Error>';
const INTERNAL_ERROR =
  '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code>' +
  '<Message>We encountered an internal error. Please try again.</Message><RequestId>conditional-proxy</RequestId></Error>';

export async function startConditionalS3Proxy(
  target: string,
  options: ConditionalProxyOptions = {},
): Promise<ConditionalProxy> {
  const upstream = new URL(target);
  const state: ConditionalProxy = {
    endpoint: '',
    refused: [],
    lost: [],
    aborts: 0,
    close: async () => undefined,
  };
  const send = (
    req: IncomingMessage,
    method: string,
    onResponse: (up: IncomingMessage) => void,
    onError: (err: Error) => void,
  ): void => {
    const out = request(
      { host: upstream.hostname, port: upstream.port, method, path: req.url, headers: req.headers },
      onResponse,
    );
    out.on('error', onError);
    req.pipe(out);
  };
  const forward = (req: IncomingMessage, res: ServerResponse): void =>
    send(
      req,
      req.method ?? 'GET',
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
      (err) => {
        res.writeHead(502);
        res.end(String(err));
      },
    );
  const keyExists = (req: IncomingMessage): Promise<boolean> =>
    new Promise((resolve, reject) => {
      // The object's path without the query (the upload id of a complete).
      const head = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: 'HEAD',
          path: (req.url ?? '/').split('?')[0],
        },
        (up) => {
          up.resume();
          resolve(up.statusCode === 200);
        },
      );
      head.on('error', reject);
      head.end();
    });
  const answer = (res: ServerResponse, status: number, body: string): void => {
    res.writeHead(status, { 'Content-Type': 'application/xml' });
    res.end(body);
  };
  const conditional = async (req: IncomingMessage, res: ServerResponse, key: string): Promise<void> => {
    await options.beforeCreate?.(key);
    if (await keyExists(req)) {
      state.refused.push(key);
      req.resume();
      req.on('end', () => answer(res, 412, PRECONDITION_FAILED));
      return;
    }
    if (options.loseFirstResponse && !state.lost.includes(key)) {
      state.lost.push(key);
      send(
        req,
        req.method ?? 'PUT',
        (up) => {
          up.resume();
          up.on('end', () => answer(res, 500, INTERNAL_ERROR));
        },
        (err) => answer(res, 502, String(err)),
      );
      return;
    }
    forward(req, res);
  };
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) state.aborts += 1;
    const creates =
      (req.method === 'PUT' && !url.searchParams.has('uploadId')) ||
      (req.method === 'POST' && url.searchParams.has('uploadId'));
    if (creates && req.headers['if-none-match'] === '*') {
      const key = decodeURIComponent(url.pathname.split('/').slice(2).join('/'));
      conditional(req, res, key).catch((err: unknown) => answer(res, 502, String(err)));
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');
  state.endpoint = `http://127.0.0.1:${(address satisfies AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
