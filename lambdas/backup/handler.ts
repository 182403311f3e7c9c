import { cachedTargetResolver, loadConfig, retryOnRotatedSecret } from '../shared/config';
import { createLogger } from '../shared/logger';
import { byteProgress } from '../shared/progress';
import type { BackupOutput, StepEvent } from '../shared/step';
import { objectStore, stepContext } from '../shared/step-context';
import { withStepBudget } from '../shared/step-budget';
import { createBackup } from './dump';

const config = loadConfig();
const log = createLogger('backup');
const store = objectStore(config);
const databaseTarget = cachedTargetResolver(config);

/** Backup step: streams pg_dump into S3 and writes the manifest; `verifyBackup` reads it back. */
async function run(
  event: StepEvent,
  context?: { getRemainingTimeInMillis(): number },
): Promise<BackupOutput> {
  const dbTarget = await databaseTarget();
  // Stop 20 s before Lambda's own timeout, so the multipart upload is aborted rather than left pending and the
  // state machine gets a DumpFailedError (and can rerun on Fargate) instead of a bare timeout.
  const abort = new AbortController();
  const remaining = context?.getRemainingTimeInMillis();
  const timer =
    remaining === undefined ? undefined : setTimeout(() => abort.abort(), Math.max(remaining - 20000, 0));
  const { database } = stepContext(event, config, dbTarget);
  const reason = typeof event.params?.reason === 'string' ? event.params.reason : event.input.action;
  const result = await createBackup(
    { store, log },
    {
      signal: abort.signal,
      target: dbTarget,
      database,
      prefix: config.backupPrefix,
      compression: config.backupCompression,
      executionId: event.execution.id,
      reason,
      verify: event.input.verifyBackup === true,
      onProgress: byteProgress('backup', 'dumped and uploaded'),
    },
  ).finally(() => clearTimeout(timer));
  return {
    step: 'backup',
    ok: true,
    database,
    key: result.key,
    manifestKey: result.manifestKey,
    sizeBytes: result.manifest.sizeBytes,
    sha256: result.manifest.sha256,
    durationMs: result.manifest.durationMs,
    compression: result.manifest.compression,
    verified: result.verified !== undefined,
    written: { dump: result.key, manifest: result.manifestKey },
  };
}

/**
 * The Lambda entry: `run`, retried once with the re-read secret when a rotation made the login fail, its output
 * within the state's byte budget (lambdas/shared/step-budget.ts).
 */
export const handler = withStepBudget(
  { step: 'backup', store, log },
  retryOnRotatedSecret(databaseTarget, run),
);
