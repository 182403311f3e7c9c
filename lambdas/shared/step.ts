import type { MigrationAnalysis } from './analysis';
import type { ExecutionInput } from './input';

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

/** Every step's output says what it did and where it wrote it; the next step and the report read this. */
export interface StepOutput {
  step: string;
  ok: boolean;
  /** S3 keys of everything this step wrote. */
  written?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * Where the state machine puts each step's output (`ResultPath: $.results.<name>`). Order of a migrate run:
 * plan (plan + lint + analysis, read-only) → preflight → backup → snapshotBefore → [dry run ends here] →
 * migrate (apply) → snapshotAfter → diff → report. The backup, downgrade and restore actions start with `size`.
 */
export interface StepResults {
  plan?: StepOutput & { analyses?: MigrationAnalysis[]; blocking?: boolean; databaseSizeBytes?: number };
  /** The size probe (preflight/size) the runner choice of backup, downgrade and restore reads. */
  size?: StepOutput & SizeProbe;
  preflight?: StepOutput & PreflightReport;
  backup?: StepOutput & { key?: string; manifestKey?: string };
  snapshotBefore?: StepOutput;
  migrate?: StepOutput;
  snapshotAfter?: StepOutput;
  diff?: StepOutput;
  report?: StepOutput & { htmlUrl?: string };
  restore?: StepOutput;
  verify?: StepOutput;
  [step: string]: StepOutput | undefined;
}

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

/** One pre-flight check's verdict. `skipped` is never a pass: it says why the check could not run. */
export interface PreflightCheckResult {
  id: string;
  status: 'pass' | 'warn' | 'fail' | 'skipped';
  /** What was measured (bytes free, seconds open, pids...), for the report's checklist. */
  value?: unknown;
  /** What it means and what to do. */
  message: string;
}

export interface PreflightReport {
  /** False when any check failed: the state machine stops before the backup. */
  ok: boolean;
  checks: PreflightCheckResult[];
  /** Idle-in-transaction sessions terminated on request (`terminateIdleInTransaction`); absent when none. */
  terminated?: TerminatedSession[];
}

/** A session pre-flight terminated because the input asked for it, named for the people who own it. */
export interface TerminatedSession {
  pid: number;
  user: string | null;
  application: string;
}
