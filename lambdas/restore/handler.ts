import { cachedTargetResolver, loadConfig, loadRestoreConfig, retryOnRotatedSecret } from '../shared/config';
import { InputValidationError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import type { RestoreOutput, StepEvent } from '../shared/step';
import { objectStore, stepContext } from '../shared/step-context';
import { withStepBudget } from '../shared/step-budget';
import { cleanupRestoreCopies } from './cleanup';
import { restoreDatabase } from './restore';

const config = loadConfig();
const log = createLogger('restore');
const store = objectStore(config);
const { noOwner, noPrivileges, retentionDays } = loadRestoreConfig();
const databaseTarget = cachedTargetResolver(config);

/** Restore step: `params.operation` "restore" (default) or "cleanup" (drop the copies restores kept). */
async function run(event: StepEvent): Promise<RestoreOutput> {
  const operation = event.params?.operation ?? (event.input.action === 'cleanup' ? 'cleanup' : 'restore');
  const dbTarget = await databaseTarget();
  const { database } = stepContext(event, config, dbTarget);

  if (operation === 'cleanup') {
    const { dropped, kept } = await cleanupRestoreCopies(
      { log },
      { target: dbTarget, confirm: event.input.confirm, executionId: event.execution.id },
    );
    return {
      step: 'restore',
      ok: true,
      operation,
      database: dbTarget.database,
      dropped: dropped.map((d) => d.name),
      kept: kept.map((k) => k.name),
    };
  }
  if (operation !== 'restore') {
    throw new InputValidationError([
      `params.operation: unknown operation "${typeof operation === 'string' ? operation : JSON.stringify(operation)}"`,
    ]);
  }
  if (!event.input.backup) {
    throw new InputValidationError(['backup: required for action "restore" (an S3 key or "latest")']);
  }
  // The input schema already ties restoreJobs to runner "fargate"; the step checks where it actually runs.
  const jobs = event.input.restoreJobs;
  if (jobs !== undefined && event.params?.runner !== 'fargate') {
    throw new InputValidationError([
      "restoreJobs: only on Fargate (the dump is downloaded to the task's ephemeral storage); this restore runs on Lambda",
    ]);
  }
  const result = await restoreDatabase(
    { store, log },
    {
      target: dbTarget,
      database,
      backup: event.input.backup,
      confirm: event.input.confirm,
      allowOtherDatabase: event.input.allowOtherDatabase,
      executionId: event.execution.id,
      requestedBy: event.execution.name ?? event.execution.id,
      prefix: config.backupPrefix,
      compression: config.backupCompression,
      noOwner,
      noPrivileges,
      retentionDays,
      jobs,
    },
  );
  return {
    step: 'restore',
    ok: true,
    operation,
    database: result.database,
    backupKey: result.backupKey,
    backupFinishedAt: result.backup.finishedAt,
    preRestoreBackup: result.preRestoreBackup,
    previousDatabase: result.previousDatabase,
    terminatedConnections: result.terminatedConnections,
    droppedCopies: result.droppedCopies.map((d) => d.name),
    durationMs: result.durationMs,
    written: result.preRestoreBackup
      ? {
          preRestoreDump: result.preRestoreBackup.key,
          preRestoreManifest: result.preRestoreBackup.manifestKey,
        }
      : {},
  };
}

/**
 * The Lambda entry: `run`, retried once with the re-read secret when a rotation made the login fail, its output
 * within the state's byte budget (lambdas/shared/step-budget.ts).
 */
export const handler = withStepBudget(
  { step: 'restore', store, log },
  retryOnRotatedSecret(databaseTarget, run),
);
