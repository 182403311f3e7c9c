import type { ExecutionInput } from './input';
import type { PreflightCheckResult, StepResults, TerminatedSession } from './step-outputs';

/**
 * What every Lambda step receives from the state machine (and what the local runner passes in-process):
 * the validated input, the execution's identity, fixed per-state parameters, and earlier steps' outputs.
 */
export interface StepEvent {
  input: ExecutionInput;
  execution: {
    /** Step Functions execution ARN, or `local-<timestamp>` for local runs: recorded as `execution_id`. */
    id: string;
    name?: string;
    startTime?: string;
  };
  /**
   * Fixed parameters of the state that invokes the handler, e.g. `{ operation: 'apply' }` for the migrate
   * handler or `{ operation: 'snapshot', phase: 'before' }` for the schema handler.
   */
  params?: Record<string, unknown>;
  /** Earlier steps' outputs, keyed by the names in StepResults. */
  results?: StepResults;
}

// Each step's own output type and the schemas the JSON coming back from the state machine is checked with.
export type {
  BackupOutput,
  CaughtError,
  DiffOutput,
  DriftOutput,
  MigrateOutput,
  NotifyOutput,
  PlanOutput,
  PreflightCheckResult,
  PreflightOutput,
  ReportOutput,
  RestoreOutput,
  SizeOutput,
  SnapshotOutput,
  StepOutput,
  StepResultName,
  StepResults,
  TerminatedSession,
  VerifyOutput,
} from './step-outputs';

/**
 * What the state machine chooses Lambda or Fargate by, before a backup or restore that no plan step measured.
 * Every number is in bytes.
 */
export interface SizeProbe {
  /** pg_database_size of the database the action works on; 0 when a restore finds it does not exist. */
  databaseSizeBytes: number;
  /** restore: the backup it will restore (`latest` resolved), its dump's size and compression (manifest). */
  backupKey?: string;
  backupSizeBytes?: number;
  backupCompression?: string;
  /**
   * restore: what the restore moves in one run, the pre-restore dump of the current database plus the backup's
   * estimated restored size (lambdas/preflight/size.ts, RESTORE_EXPANSION). `Restore runner?` compares this.
   */
  restoreSizeBytes?: number;
}

export interface PreflightReport {
  /** False when any check failed: the state machine stops before the backup. */
  ok: boolean;
  checks: PreflightCheckResult[];
  /** Idle-in-transaction sessions terminated on request (`terminateIdleInTransaction`); absent when none. */
  terminated?: TerminatedSession[];
}
