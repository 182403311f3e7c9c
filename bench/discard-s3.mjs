#!/usr/bin/env node
// A minimal S3-compatible endpoint that answers the calls of a multipart upload (and the HEAD/PUT/DELETE
// around it) and throws the bodies away, so a benchmark can tell pgshift's own cost from the S3 stand-in's:
// it reads every byte off the socket and stores nothing. Prints its endpoint as one JSON line on stdout;
// exits when stdin closes (its parent is gone). Plain ESM so it starts without a TypeScript loader.
import { createServer } from 'node:http';

let nextId = 1;
let bytes = 0;
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  req.on('data', (d) => (bytes += d.length));
  req.on('end', () => {
    const q = url.searchParams;
    const xml = (body) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
    };
    if (req.method === 'HEAD' || req.method === 'GET') {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end(
        req.method === 'GET'
          ? '<Error><Code>NoSuchKey</Code><Message>discarded</Message></Error>'
          : undefined,
      );
    } else if (req.method === 'POST' && q.has('uploads')) {
      xml(`<InitiateMultipartUploadResult><UploadId>u${nextId++}</UploadId></InitiateMultipartUploadResult>`);
    } else if (req.method === 'POST' && q.has('uploadId')) {
      xml(`<CompleteMultipartUploadResult><ETag>"done"</ETag></CompleteMultipartUploadResult>`);
    } else if (req.method === 'PUT') {
      res.writeHead(200, { etag: `"p${q.get('partNumber') ?? 0}"` });
      res.end();
    } else if (req.method === 'DELETE') {
      res.writeHead(204);
      res.end();
    } else {
      res.writeHead(400);
      res.end();
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(JSON.stringify({ endpoint: `http://127.0.0.1:${port}`, pid: process.pid }) + '\n');
});
process.on('SIGUSR2', () => process.stderr.write(`discard-s3: ${bytes} bytes\n`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
