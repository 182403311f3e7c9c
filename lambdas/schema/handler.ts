import { cachedTargetResolver, loadConfig, loadSchemaConfig, retryOnRotatedSecret } from '../shared/config';
import { InputValidationError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import type { DiffOutput, DriftOutput, SnapshotOutput, StepEvent, StepOutput } from '../shared/step';
import { objectStore, stepContext } from '../shared/step-context';
import { withStepBudget } from '../shared/step-budget';
import { detectDrift, diffStoredSnapshots, recordSchemaSnapshot } from './steps';
import { diffStepSummary } from './summary';

const config = loadConfig();
const log = createLogger('schema');
const store = objectStore(config);
const databaseTarget = cachedTargetResolver(config);

const { includeOwnership, largeTableBytes } = loadSchemaConfig();

/** Actions after which the "after" snapshot is the schema pgshift made, i.e. what drift compares with. */
const RECORDING_ACTIONS = new Set(['migrate', 'downgrade', 'baseline']);

function writtenKey(out: StepOutput | undefined, name: string): string | undefined {
  return out?.written?.[name];
}

/** Schema step: `snapshot` (params.phase before/after), `diff` of the two snapshots, `drift` of live vs recorded. */
async function run(event: StepEvent): Promise<SnapshotOutput | DiffOutput | DriftOutput> {
  const operation = event.params?.operation;
  const dbTarget = await databaseTarget();
  const { database, executionName } = stepContext(event, config, dbTarget);
  const deps = { store, log };
  if (operation === 'snapshot') {
    const phase = event.params?.phase;
    if (phase !== 'before' && phase !== 'after') {
      throw new InputValidationError([
        `params.phase: expected "before" or "after", got ${JSON.stringify(phase)}`,
      ]);
    }
    // The after snapshot only runs once the change succeeded (a failure goes down the Catch path instead).
    const updateLatest =
      phase === 'after' && RECORDING_ACTIONS.has(event.input.action) && event.input.dryRun !== true;
    const result = await recordSchemaSnapshot(deps, {
      target: dbTarget,
      database,
      executionId: executionName,
      phase,
      includeOwnership,
      updateLatest,
    });
    return {
      step: 'schema',
      operation,
      phase,
      ok: true,
      database,
      objectCounts: result.objectCounts,
      recordedAsLatest: updateLatest,
      written: result.written,
    };
  }
  if (operation === 'diff') {
    const before = writtenKey(event.results?.snapshotBefore, 'json');
    const after = writtenKey(event.results?.snapshotAfter, 'json');
    const missing = [
      !before && 'results.snapshotBefore.written.json',
      !after && 'results.snapshotAfter.written.json',
    ];
    if (!before || !after) {
      throw new InputValidationError(
        missing.filter((m): m is string => Boolean(m)).map((m) => `${m}: missing`),
      );
    }
    const { diff, written } = await diffStoredSnapshots(deps, {
      database,
      executionId: executionName,
      before: { json: before, sql: writtenKey(event.results?.snapshotBefore, 'sql') },
      after: { json: after, sql: writtenKey(event.results?.snapshotAfter, 'sql') },
      largeTableBytes,
    });
    return {
      step: 'schema',
      operation,
      ok: true,
      database,
      ...diffStepSummary(diff),
      written,
    };
  }
  if (operation === 'drift') {
    const drift = await detectDrift(deps, { target: dbTarget, database, largeTableBytes });
    return {
      step: 'schema',
      operation,
      ok: drift.ok,
      database,
      checked: drift.checked,
      counts: drift.counts,
      summary: drift.summary,
      recordedKey: drift.recordedKey,
    };
  }
  throw new InputValidationError([
    `params.operation: expected "snapshot", "diff" or "drift", got ${JSON.stringify(operation)}`,
  ]);
}

/**
 * The Lambda entry: `run`, retried once with the re-read secret when a rotation made the login fail, its output
 * within the state's byte budget (lambdas/shared/step-budget.ts).
 */
export const handler = withStepBudget(
  { step: 'schema', store, log },
  retryOnRotatedSecret(databaseTarget, run),
);
