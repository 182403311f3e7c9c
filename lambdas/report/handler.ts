import { cachedTargetResolver, loadConfig, loadReportConfig, retryOnRotatedSecret } from '../shared/config';
import { redactSecrets, withClient } from '../shared/db';
import { createLogger } from '../shared/logger';
import { getJson } from '../shared/s3';
import type { ReportOutput, StepEvent } from '../shared/step';
import { loadStepResults, withStepBudget } from '../shared/step-budget';
import { objectStore, stepContext } from '../shared/step-context';
import type { SchemaDiff } from '../schema';
import { buildReport, reportFailure, type DatabaseReport } from './build';
import { writeReport, type WrittenReport } from './write';

const config = loadConfig();
const log = createLogger('report');
const store = objectStore(config);
const databaseTarget = cachedTargetResolver(config);

const thresholds = loadReportConfig(process.env, (err) =>
  log.warn('report setting ignored, its default kept', { error: err.message, ...err.details }),
);

/** Report step: gathers the database report, folds in this run's results, writes report.{json,md,html}. */
async function run(event: StepEvent): Promise<ReportOutput> {
  const dbTarget = await databaseTarget();
  const { database } = stepContext(event, config, dbTarget);
  let report: DatabaseReport;
  let out: WrittenReport;
  try {
    // Whole results: a step output that did not fit the state's budget is read back from S3.
    const results = await loadStepResults(store, event.results ?? {});
    const diffKey = results.diff?.written?.json;
    const diff = diffKey === undefined ? null : await getJson<SchemaDiff>(store, diffKey);
    report = await withClient(
      dbTarget,
      (client) =>
        buildReport(
          { client, store, log },
          {
            database,
            backupPrefix: config.backupPrefix,
            results,
            diff,
            longQuerySeconds: thresholds.longQuerySeconds,
            exactCountMaxBytes: thresholds.exactCountMaxBytes,
            redact: (text) => redactSecrets(text, dbTarget),
          },
        ),
      'pgshift-report',
    );
    out = await writeReport(store, report, {
      expiresInSeconds: thresholds.urlSeconds,
    });
  } catch (err) {
    throw reportFailure(err, database);
  }
  const { written, htmlUrl } = out;
  return {
    step: 'report',
    ok: true,
    database,
    htmlUrl,
    databaseSizeBytes: report.server.databaseSizeBytes,
    tableCount: report.tableCount,
    appliedMigrations: report.migrations.applied.length,
    backups: report.backups.length,
    schemaChanges: report.diff?.counts ?? null,
    written,
  };
}

/**
 * The Lambda entry: `run`, retried once with the re-read secret when a rotation made the login fail, its output
 * within the state's byte budget (lambdas/shared/step-budget.ts).
 */
export const handler = withStepBudget(
  { step: 'report', store, log },
  retryOnRotatedSecret(databaseTarget, run),
);
