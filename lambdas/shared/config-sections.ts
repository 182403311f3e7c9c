import { parseSeverityOverrides, type SeverityOverrides } from '../migrate/lint/severity';
import {
  envBoolean,
  envBytes,
  envInteger,
  envParsed,
  envSecondsMs,
  envString,
  type Env,
} from './env-parsers';
import { ConfigurationError } from './errors';

const read = (env: Env, name: string): string | undefined => envString(env, name);

/*
 * Per-step sections of pgshift's configuration (re-exported by ./config.ts, beside loadConfig). Kept apart from
 * loadConfig so that the alert functions, which import only this file, do not bundle the database client.
 * Each step's handler reads its own section once, at module scope, so a bad value fails that step's first
 * invocation with a ConfigurationError naming the variable and the value; a step never validates another
 * step's variables (the stack sets each function only what it reads).
 */

/** The lint's overrides (migrate function). */
export interface LintConfig {
  /** Per-rule severities (PGSHIFT_LINT_SEVERITIES, a JSON object). @default {} */
  severities: SeverityOverrides;
  /** Size thresholds; absent ones keep the lint's defaults (100 MiB, 1,000,000 rows). */
  thresholds: { largeTableBytes?: number; largeTableRows?: number };
}

export function loadLintConfig(env: Env = process.env): LintConfig {
  const largeTableBytes = envBytes(env, 'PGSHIFT_LINT_LARGE_TABLE_BYTES');
  const largeTableRows = envInteger(env, 'PGSHIFT_LINT_LARGE_TABLE_ROWS', { unit: 'rows' });
  return {
    severities: envParsed(env, 'PGSHIFT_LINT_SEVERITIES', parseSeverityOverrides) ?? {},
    thresholds: {
      ...(largeTableBytes === undefined ? {} : { largeTableBytes }),
      ...(largeTableRows === undefined ? {} : { largeTableRows }),
    },
  };
}

/** The schema step's options. */
export interface SchemaConfig {
  /** Owners and grants in snapshots (PGSHIFT_SCHEMA_OWNERSHIP); they differ per environment. @default false */
  includeOwnership: boolean;
  /** From this size a table is large for the diff's "locking" class (PGSHIFT_LARGE_TABLE_BYTES). @default 100 MiB */
  largeTableBytes?: number;
}

export function loadSchemaConfig(env: Env = process.env): SchemaConfig {
  return {
    includeOwnership: envBoolean(env, 'PGSHIFT_SCHEMA_OWNERSHIP') ?? false,
    largeTableBytes: envBytes(env, 'PGSHIFT_LARGE_TABLE_BYTES'),
  };
}

/** `parse`'s value; when it throws a ConfigurationError, that error goes to `ignored` and the result is undefined. */
function orIgnored<T>(parse: () => T | undefined, ignored: (err: ConfigurationError) => void): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    ignored(err);
    return undefined;
  }
}

/** The report step's thresholds; absent ones keep the report's defaults. */
export interface ReportConfig {
  /** Queries running longer are listed (PGSHIFT_REPORT_LONG_QUERY_SECONDS). @default 60 */
  longQuerySeconds?: number;
  /** Tables up to this size get an exact row count (PGSHIFT_REPORT_EXACT_COUNT_MAX_BYTES). @default 50 MiB */
  exactCountMaxBytes?: number;
  /** Lifetime of the report's presigned URL (PGSHIFT_REPORT_URL_SECONDS). */
  urlSeconds?: number;
}

/**
 * The report runs after the database changed: an unusable value there is logged through `ignored` (naming the
 * variable and value) and the default kept, rather than failing the run's last step; see docs/decisions.md.
 */
export function loadReportConfig(
  env: Env = process.env,
  ignored: (err: ConfigurationError) => void = () => undefined,
): ReportConfig {
  const lenient = (parse: () => number | undefined): number | undefined => orIgnored(parse, ignored);
  return {
    longQuerySeconds: lenient(() =>
      envInteger(env, 'PGSHIFT_REPORT_LONG_QUERY_SECONDS', { unit: 'seconds' }),
    ),
    exactCountMaxBytes: lenient(() => envBytes(env, 'PGSHIFT_REPORT_EXACT_COUNT_MAX_BYTES')),
    urlSeconds: lenient(() => envInteger(env, 'PGSHIFT_REPORT_URL_SECONDS', { unit: 'seconds' })),
  };
}

/** The restore step's pg_restore options and retention. */
export interface RestoreConfig {
  /** pg_restore --no-owner (PGSHIFT_RESTORE_NO_OWNER). @default true */
  noOwner: boolean;
  /** pg_restore --no-privileges (PGSHIFT_RESTORE_NO_PRIVILEGES). @default false */
  noPrivileges: boolean;
  /** Drop `__pgshift_before_*` copies older than this after each restore (PGSHIFT_RESTORE_RETENTION_DAYS). */
  retentionDays?: number;
}

export function loadRestoreConfig(env: Env = process.env): RestoreConfig {
  return {
    noOwner: envBoolean(env, 'PGSHIFT_RESTORE_NO_OWNER') ?? true,
    noPrivileges: envBoolean(env, 'PGSHIFT_RESTORE_NO_PRIVILEGES') ?? false,
    retentionDays: envInteger(env, 'PGSHIFT_RESTORE_RETENTION_DAYS', { unit: 'days' }),
  };
}

/**
 * The apply's time budget as the stack sets it from the migrate function's and the Fargate state's timeouts
 * (PGSHIFT_APPLY_TIME_BUDGET_SECONDS, PGSHIFT_APPLY_TIME_MARGIN_SECONDS, PGSHIFT_FARGATE_TIME_BUDGET_SECONDS),
 * in milliseconds; undefined where unset (each reader keeps its own default).
 */
export interface ApplyTimeConfig {
  budgetMs?: number;
  marginMs?: number;
  fargateBudgetMs?: number;
}

/**
 * `minSeconds` 1 for pre-flight, which divides by these and has always refused 0; the migrate function accepts a
 * margin of 0.
 */
export function loadApplyTimeConfig(env: Env = process.env, minSeconds = 0): ApplyTimeConfig {
  return {
    budgetMs: envSecondsMs(env, 'PGSHIFT_APPLY_TIME_BUDGET_SECONDS', { min: minSeconds }),
    marginMs: envSecondsMs(env, 'PGSHIFT_APPLY_TIME_MARGIN_SECONDS', { min: minSeconds }),
    fargateBudgetMs: envSecondsMs(env, 'PGSHIFT_FARGATE_TIME_BUDGET_SECONDS', { min: minSeconds }),
  };
}

/** The alert functions' settings (notify and ended); every one optional, so an alert never waits on a setting. */
export interface AlertConfig {
  /** SNS topic (PGSHIFT_TOPIC_ARN); absent: alerts are only logged. */
  topicArn?: string;
  /** Local SNS endpoint (AWS_ENDPOINT_URL_SNS); unset on AWS. */
  snsEndpoint?: string;
  /** Bucket for alert records and spilled outputs (PGSHIFT_BUCKET), with its KMS key (PGSHIFT_KMS_KEY_ID). */
  bucket?: string;
  kmsKeyId?: string;
  /** Scheduler group and role of the duration watchdog (PGSHIFT_SCHEDULE_GROUP, PGSHIFT_SCHEDULER_ROLE_ARN). */
  scheduleGroup?: string;
  schedulerRoleArn?: string;
  /** When the watchdog warns (PGSHIFT_DURATION_WARNING_MINUTES). @default 60 */
  warningMinutes: number;
  /** Logical database name for alerts whose input names none (PGSHIFT_DATABASE). */
  defaultDatabase?: string;
}

/**
 * Like the report's, an unusable watchdog delay is reported through `ignored` and the default kept: notify is
 * the alert path, and failing its start-up would lose the alert the operator needs.
 */
export function loadAlertConfig(
  env: Env = process.env,
  ignored: (err: ConfigurationError) => void = () => undefined,
): AlertConfig {
  const warningMinutes = orIgnored(
    () => envInteger(env, 'PGSHIFT_DURATION_WARNING_MINUTES', { unit: 'minutes' }),
    ignored,
  );
  return {
    topicArn: read(env, 'PGSHIFT_TOPIC_ARN'),
    snsEndpoint: read(env, 'AWS_ENDPOINT_URL_SNS'),
    bucket: read(env, 'PGSHIFT_BUCKET'),
    kmsKeyId: read(env, 'PGSHIFT_KMS_KEY_ID'),
    scheduleGroup: read(env, 'PGSHIFT_SCHEDULE_GROUP'),
    schedulerRoleArn: read(env, 'PGSHIFT_SCHEDULER_ROLE_ARN'),
    warningMinutes: warningMinutes ?? 60,
    defaultDatabase: read(env, 'PGSHIFT_DATABASE'),
  };
}
