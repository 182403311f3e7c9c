import type { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import type { ClientBase } from 'pg';
import type { LockLevel, MigrationAnalysis } from '../shared/analysis';
import type { Log } from '../shared/logger';
import type { PgVersion } from '../shared/pg-version';
import type { PreflightCheckResult } from '../shared/step';
import type { PreflightThresholds } from './thresholds';

/** The stable ids of pre-flight checks, in the order they run and appear in the report. */
export const CHECK_IDS = [
  'disk-space',
  'blocking-transactions',
  'connections',
  'replication',
  'versions',
  'timeouts',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/**
 * pg_stat_activity rows of client sessions, including those whose details a role without pg_monitor cannot see
 * (backend_type is then NULL too, but user and database still show; background processes have neither).
 */
export const CLIENT_BACKEND =
  "(backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL AND datname IS NOT NULL))";

/** Where free storage comes from on AWS: the RDS instance, or the Aurora cluster's writer. */
export interface StorageMetricsSource {
  cloudWatch: CloudWatchClient;
  /** RDS instance id (PGSHIFT_RDS_INSTANCE_ID): FreeStorageSpace. */
  rdsInstanceId?: string;
  /** Aurora cluster id (PGSHIFT_RDS_CLUSTER_ID): the writer's FreeLocalStorage (sort/temp space). */
  rdsClusterId?: string;
}

/** Clients and facts runPreflight needs from outside; the handler, the CLI and tests each build their own. */
export interface PreflightDeps {
  /** A connected client on the target database; runPreflight ends it when done. */
  connect: () => Promise<ClientBase & { end(): Promise<void> }>;
  /** Absent locally (no CloudWatch): the disk check then says `skipped`, never `pass`. */
  storageMetrics?: StorageMetricsSource;
  /** Milliseconds the Lambda apply step will have (its timeout). @default none: not compared */
  timeBudgetMs?: number;
  /** What the Lambda apply keeps free before its deadline (PGSHIFT_APPLY_TIME_MARGIN_SECONDS). @default 0 */
  timeMarginMs?: number;
  /** Milliseconds a Fargate apply may run (the Fargate state's timeout). @default none: Fargate not available */
  fargateTimeBudgetMs?: number;
  /**
   * The version of the pg_dump the backup will run (`backupPgDumpVersion()`: the image's declared major on AWS,
   * the local pg_dump otherwise). Absent or rejecting: the versions check says `skipped` for pg_dump.
   */
  pgDumpVersion?: () => Promise<PgVersion>;
  log: Log;
}

/** What this run should check and do. */
export interface PreflightOptions {
  /** The pending migrations, as the plan step analysed them. */
  analyses: MigrationAnalysis[];
  /** Recorded as `execution_id` of a `preflight-skip` history event. */
  executionId: string;
  /** Overrides of the documented defaults (docs/preflight.md). */
  thresholds?: Partial<PreflightThresholds>;
  /** Check ids not to run, with the reason recorded in history. */
  skip?: { ids: string[]; reason?: string };
  /** Terminate idle-in-transaction sessions that would block the migration, instead of failing on them. */
  terminateIdleInTransaction?: boolean;
  /** The runner the input asks for (`runner`); absent: the check chooses. */
  runner?: 'lambda' | 'fargate';
}

/** Catalog facts about one table a pending migration touches. */
export interface TouchedRelation {
  schema: string;
  table: string;
  /** Null when the table does not exist yet (the migration creates it). */
  oid: number | null;
  /** Heap + TOAST (pg_table_size). */
  tableBytes: number;
  /** All its indexes (pg_indexes_size). */
  indexBytes: number;
  /** Whether the sizes were measured live, or taken from the analysis because the table does not exist. */
  measured: boolean;
  /** The strongest lock any pending migration takes on it. */
  strongestLock: LockLevel;
}

/** What every check receives: one connection and the facts gathered once for all checks. */
export interface CheckContext {
  client: ClientBase;
  analyses: MigrationAnalysis[];
  thresholds: PreflightThresholds;
  server: PgVersion;
  relations: TouchedRelation[];
  deps: PreflightDeps;
  options: PreflightOptions;
}

/** One pre-flight check: an id and a function that measures and judges. */
export interface PreflightCheck {
  id: CheckId;
  /**
   * What a check that cannot run (permission denied, unsupported function) reports. @default 'fail': a check
   * guarding against damage must not pass silently; advisory checks (replication) only warn.
   */
  statusWhenUnrunnable?: 'fail' | 'warn';
  run(ctx: CheckContext): Promise<PreflightCheckResult>;
}
