/**
 * The S3 key layout (shared/DESIGN.md). Database names go into keys as they are (S3 keys are UTF-8) except
 * `/`, which would add a level; the manifest keeps the real name.
 */

function pad(n: number, width = 2): string {
  return String(n).padStart(width, '0');
}

/** `YYYYMMDD_HHMMSS` in UTC, the seed's backup file stamp. */
export function timestampUtc(at: Date): string {
  return (
    `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}_` +
    `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`
  );
}

export function keySegment(name: string): string {
  return name.replace(/\//g, '%2F');
}

export const DEFAULT_BACKUP_PREFIX = 'backups';

/** `backups/<db>/YYYY/MM/DD/pg_backup_YYYYMMDD_HHMMSS.dump` */
export function backupKey(database: string, at: Date, prefix = DEFAULT_BACKUP_PREFIX): string {
  const day = `${at.getUTCFullYear()}/${pad(at.getUTCMonth() + 1)}/${pad(at.getUTCDate())}`;
  return `${prefix.replace(/\/+$/, '')}/${keySegment(database)}/${day}/pg_backup_${timestampUtc(at)}.dump`;
}

/** The prefix under which all backups of one database live. */
export function backupPrefix(database: string, prefix = DEFAULT_BACKUP_PREFIX): string {
  return `${prefix.replace(/\/+$/, '')}/${keySegment(database)}/`;
}

export function manifestKeyFor(dumpKey: string): string {
  return `${dumpKey}.manifest.json`;
}

/** `schemas/<db>/<execution>/{before,after}.{json,sql}` */
export function schemaKeys(
  database: string,
  executionId: string,
  phase: 'before' | 'after',
): { json: string; sql: string } {
  const base = `schemas/${keySegment(database)}/${keySegment(executionId)}/${phase}`;
  return { json: `${base}.json`, sql: `${base}.sql` };
}

/** `diffs/<db>/<execution>/diff.{json,md}` and the unified diff of the two schema-only dumps. */
export function diffKeys(database: string, executionId: string): { json: string; md: string; patch: string } {
  const base = `diffs/${keySegment(database)}/${keySegment(executionId)}/diff`;
  return { json: `${base}.json`, md: `${base}.md`, patch: `${base}.patch` };
}

/** `reports/<db>/<timestamp>/report.{json,md,html}` */
export function reportKeys(database: string, at: Date): { json: string; md: string; html: string } {
  const base = `reports/${keySegment(database)}/${timestampUtc(at)}/report`;
  return { json: `${base}.json`, md: `${base}.md`, html: `${base}.html` };
}

/** The snapshot recorded after the last successful migration: what `verify` compares the live schema to. */
export function latestSchemaKey(database: string): string {
  return `schemas/${keySegment(database)}/latest.json`;
}

/** Where a Fargate task leaves its StepOutput for the workflow: `runs/<db>/<execution name>/<step>.json`. */
export function taskResultKey(database: string, executionName: string, step: string): string {
  return `runs/${keySegment(database)}/${keySegment(executionName)}/${step}.json`;
}

/** `plans/<db>/<execution>/plan.{sql,json}` (dry-run SQL and all lint findings) and the downgrade's SQL. */
export function planKeys(
  database: string,
  execution: string,
): { sql: string; json: string; downgradeSql: string } {
  const base = `plans/${keySegment(database)}/${keySegment(execution)}`;
  return { sql: `${base}/plan.sql`, json: `${base}/plan.json`, downgradeSql: `${base}/downgrade.sql` };
}

/**
 * The marker an alert leaves once published, `runs/<db>/<execution name>/alerts/<kind>.json`: the function on
 * the EventBridge rule reads it so that what "Notify failure" already sent is not sent twice.
 */
export function alertMarkerKey(database: string, executionName: string, kind: string): string {
  return `runs/${keySegment(database)}/${keySegment(executionName)}/alerts/${kind}.json`;
}

/**
 * Where a step output that does not fit the workflow state's budget goes (lambdas/shared/step-budget.ts):
 * `runs/<db>/<execution name>/outputs/<label>.json`, the label starting with the function's step name so each
 * function's write grant covers only its own outputs (lib/step-lambdas.ts `spillPrefix`).
 */
export function spilledOutputKey(database: string, executionName: string, label: string): string {
  return `runs/${keySegment(database)}/${keySegment(executionName)}/outputs/${label}.json`;
}
