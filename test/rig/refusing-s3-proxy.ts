/**
 * A small HTTP proxy in front of the rig's S3 stand-in that starts refusing multipart parts mid-upload, as S3
 * does when a bucket policy, a KMS key or a quota changes under a running backup. Everything else (create,
 * abort, complete, get) is passed through unchanged.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RefusingProxy {
  endpoint: string;
  /** Part numbers refused so far. */
  refused: number[];
  /** AbortMultipartUpload requests that passed through. */
  aborts: number;
  /** The most UploadPart requests that were open at the same time. */
  maxPartsInFlight: number;
  /** Every request seen: method, path with query, and headers (what the client sent S3). */
  requests: { method: string; url: string; headers: Record<string, string | string[] | undefined> }[];
  close: () => Promise<void>;
}

/** Refuses UploadPart for every part number >= `fromPart` with the given S3 error (403 AccessDenied by default). */
export async function startRefusingS3Proxy(
  target: string,
  options: { fromPart: number; code?: string; message?: string; status?: number },
): Promise<RefusingProxy> {
  const upstream = new URL(target);
  const state: RefusingProxy = {
    endpoint: '',
    refused: [],
    aborts: 0,
    maxPartsInFlight: 0,
    requests: [],
    close: async () => undefined,
  };
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const out = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      res.writeHead(502);
      res.end(String(err));
    });
    req.pipe(out);
  };
  let partsInFlight = 0;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    state.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: { ...req.headers } });
    const part = Number(url.searchParams.get('partNumber'));
    if (req.method === 'PUT' && url.searchParams.has('uploadId') && part >= options.fromPart) {
      state.refused.push(part);
      req.resume();
      req.on('end', () => {
        res.writeHead(options.status ?? 403, { 'Content-Type': 'application/xml' });
        res.end(
          `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${options.code ?? 'AccessDenied'}</Code>` +
            `<Message>${options.message ?? 'Access Denied'}</Message><RequestId>proxy-${part}</RequestId></Error>`,
        );
      });
      return;
    }
    if (req.method === 'DELETE' && url.searchParams.has('uploadId')) state.aborts += 1;
    if (req.method === 'PUT' && url.searchParams.has('partNumber')) {
      partsInFlight += 1;
      state.maxPartsInFlight = Math.max(state.maxPartsInFlight, partsInFlight);
      res.on('close', () => (partsInFlight -= 1));
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
