#!/usr/bin/env node
// A minimal S3-compatible endpoint that answers the calls of a multipart upload (and the HEAD/PUT/DELETE
// around it) and throws the parts away, so a benchmark can tell pgshift's own cost from the S3 stand-in's:
// it reads every byte off the socket and keeps only whole-object PUTs (manifests, reports), which the steps
// after a backup read back (the CLI runs the whole workflow against it too). Prints its endpoint as one JSON line on stdout;
// exits when stdin closes (its parent is gone). Plain ESM so it starts without a TypeScript loader.
import { createServer } from 'node:http';

let nextId = 1;
let bytes = 0;
/** Whole-object PUTs (manifests, reports: small) are kept, so that a later step can read them back. */
const kept = new Map();
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  const path = decodeURIComponent(url.pathname);
  const isBucket = path.split('/').filter(Boolean).length === 1;
  const q = url.searchParams;
  const keep = req.method === 'PUT' && !q.has('partNumber') && !isBucket;
  const chunks = [];
  req.on('data', (d) => {
    bytes += d.length;
    if (keep) chunks.push(d);
  });
  req.on('end', () => {
    const xml = (body) => {
      res.writeHead(200, { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?>${body}`);
    };
    const object = kept.get(path);
    if ((req.method === 'HEAD' || req.method === 'GET') && isBucket && !q.has('list-type')) {
      res.writeHead(200);
      res.end();
    } else if (req.method === 'GET' && isBucket) {
      xml('<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>');
    } else if ((req.method === 'HEAD' || req.method === 'GET') && object) {
      res.writeHead(200, { 'content-length': object.length, etag: '"kept"' });
      res.end(req.method === 'GET' ? object : undefined);
    } else if (req.method === 'HEAD' || req.method === 'GET') {
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
      if (keep) kept.set(path, Buffer.concat(chunks));
      res.writeHead(200, { etag: `"p${q.get('partNumber') ?? 0}"` });
      res.end();
    } else if (req.method === 'DELETE') {
      kept.delete(path);
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
