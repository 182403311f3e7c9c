/**
 * Runs one backup in a worker thread, as `pgshift local` runs a function: loaded with tsx's register (the worker
 * is outside jest's module system), the result posted back. workerData: { target, s3, toolEnv }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { streamDumpToS3 } from '../../lambdas/backup';
import { errorMessage } from '../../lambdas/shared/errors';
import { silentLogger } from '../../lambdas/shared/logger';
import { createS3Client } from '../../lambdas/shared/s3';

const job = z
  .object({
    target: z.object({
      host: z.string(),
      port: z.number(),
      user: z.string(),
      password: z.string(),
      database: z.string(),
      sslMode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']),
      sslRootCert: z.string().optional(),
    }),
    s3: z.object({ endpoint: z.string(), region: z.string(), bucket: z.string() }),
    toolEnv: z.record(z.string(), z.string()),
  })
  .parse(workerData);

const store = {
  s3: createS3Client({ endpoint: job.s3.endpoint, region: job.s3.region }),
  bucket: job.s3.bucket,
  kmsKeyId: 'arn:aws:kms:us-east-1:000000000000:key/worker-test',
};
streamDumpToS3(
  { store, log: silentLogger, toolEnv: job.toolEnv },
  { target: job.target, executionId: 'worker' },
)
  .then((r) => parentPort?.postMessage({ ok: true, key: r.key, sha256: r.manifest.sha256 }))
  .catch((err: unknown) => parentPort?.postMessage({ ok: false, error: errorMessage(err) }));
