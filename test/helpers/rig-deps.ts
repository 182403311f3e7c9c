import { randomBytes } from 'node:crypto';
import { silentLogger, type Log } from '../../lambdas/shared/logger';
import { createS3Client, type ObjectStore } from '../../lambdas/shared/s3';
import { rigInfo, rigStore } from '../rig/helpers';

/**
 * The rig's object store and the quiet dependencies the backup/restore cores take in tests. With `s3Endpoint`
 * (a proxy in front of the stand-in), `deps.store` talks through it while `store` still reaches the stand-in
 * directly, to check what really arrived.
 */
export function rigDeps(s3Endpoint?: string): {
  store: ObjectStore;
  deps: { store: ObjectStore; log: Log };
} {
  const store = rigStore();
  const through = s3Endpoint
    ? { ...store, s3: createS3Client({ endpoint: s3Endpoint, region: rigInfo().s3.region }) }
    : store;
  return { store, deps: { store: through, log: silentLogger } };
}

/** A unique execution id per call, so the S3 keys of one test never collide with another's. */
export function testExecutionId(): string {
  return `test-${randomBytes(4).toString('hex')}`;
}
