import { randomBytes } from 'node:crypto';
import { silentLogger, type Log } from '../../lambdas/shared/logger';
import type { ObjectStore } from '../../lambdas/shared/s3';
import { rigStore } from '../rig/helpers';

/** The rig's object store and the quiet dependencies the backup/restore cores take in tests. */
export function rigDeps(): { store: ObjectStore; deps: { store: ObjectStore; log: Log } } {
  const store = rigStore();
  return { store, deps: { store, log: silentLogger } };
}

/** A unique execution id per call, so the S3 keys of one test never collide with another's. */
export function testExecutionId(): string {
  return `test-${randomBytes(4).toString('hex')}`;
}
