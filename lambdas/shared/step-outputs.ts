/**
 * What each step returns to the state machine, one schema per step (docs/decisions.md, "The typed contract
 * between steps"). The handlers produce these types; every reader gets them through `parseStepResults`
 * (./step-parse.ts), which checks the JSON the state machine hands back against the same schemas.
 *
 * The schemas are loose on purpose: they check the fields a reader reads and keep every other field as it is,
 * so the outputs' JSON (the execution output people and tools read) keeps its shape. Only `step` and `ok` are
 * required: an output over the state's byte budget travels without its large fields (./step-budget.ts), so
 * every other field may be absent in the state; a reader that needs them loads the whole output.
 */
import { z } from 'zod';
import type { LintFinding } from '../migrate/types';
import type { MigrationAnalysis } from './analysis';

const keys = z.record(z.string(), z.string());
const counts = z.record(z.string(), z.number());
const isObject = (v: unknown): v is object => typeof v === 'object' && v !== null;

/** What every step's output has: its name, its verdict, and the S3 keys of what it wrote. */
export const stepOutputSchema = z.looseObject({
  step: z.string(),
  ok: z.boolean(),
  written: keys.optional(),
});
/** Any step's output, as the byte budget and the Fargate task handle it without knowing which step it is. */
export type StepOutput = z.infer<typeof stepOutputSchema>;

/** The reference an output over the byte budget keeps to its whole self in S3 (./step-budget.ts). */
export const spilledRefSchema = z.looseObject({
  key: z.string(),
  bytes: z.number(),
  sha256: z.string(),
  counts: counts,
});

/** What a Catch puts into the state (`$.error`, `results.migrateStopped`, an alert state's result). */
export const caughtErrorSchema = z.looseObject({
  Error: z.string().optional(),
  Cause: z.string().optional(),
});
export type CaughtError = z.infer<typeof caughtErrorSchema>;

/** Which migrations a run read: a bundle, or the files deployed with the migrate function. */
const migrationSourceSchema = z.looseObject({
  /** "bundle" or "deployed"; a reader that meets another value shows neither. */
  source: z.string(),
  bundle: z.string().optional(),
  sha256: z.string().optional(),
  count: z.number().optional(),
});
export type MigrationSourceOutput = z.infer<typeof migrationSourceSchema>;

/** A migration the plan would apply; `noTransaction` is the reason it runs outside a transaction, or true. */
const pendingSchema = z.looseObject({
  version: z.string().optional(),
  name: z.string().optional(),
  checksum: z.string().optional(),
  noTransaction: z.union([z.string(), z.boolean()]).optional(),
  empty: z.boolean().optional(),
});

/** The fields of a lint finding its readers print (the CLI's summary); the others travel as they are. */
const printedFindingSchema = z.looseObject({
  rule: z.string(),
  severity: z.enum(['error', 'warning']),
  file: z.string(),
  line: z.number(),
  message: z.string(),
});
const findingSchema = z.custom<LintFinding>(
  (v) => printedFindingSchema.safeParse(v).success,
  'expected a lint finding (rule, severity, file, line, message)',
);

const lintCountsSchema = z.looseObject({ errors: z.number().optional(), warnings: z.number().optional() });

/** The SQL a plan or downgrade left in S3: where, its size, and the sha256 a reader checks what it fetches against. */
const sqlObjectSchema = z.looseObject({
  bucket: z.string(),
  key: z.string(),
  bytes: z.number(),
  sha256: z.string(),
});

/** Fields of every output of the migrate function (plan, apply, downgrade, verify, baseline). */
const migrateBase = {
  operation: z.string().optional(),
  database: z.string().optional(),
  migrations: migrationSourceSchema.optional(),
  runner: z.enum(['lambda', 'fargate']).optional(),
};

/** `migrate` with `operation: plan`: read-only; what pre-flight judges and the CLI prints. */
export const planOutputSchema = stepOutputSchema.extend({
  ...migrateBase,
  pending: z.array(pendingSchema).optional(),
  pendingCount: z.number().optional(),
  checksumMismatches: z.number().optional(),
  lint: lintCountsSchema.optional(),
  findings: z.array(findingSchema).optional(),
  allowed: z.array(z.unknown()).optional(),
  analyses: z.array(z.custom<MigrationAnalysis>(isObject, 'expected an object')).optional(),
  blocking: z.boolean().optional(),
  databaseSizeBytes: z.number().optional(),
  sql: sqlObjectSchema.optional(),
});
export type PlanOutput = z.infer<typeof planOutputSchema>;

/** `migrate` with `operation` apply, downgrade or baseline (one result, `results.migrate`). */
export const migrateOutputSchema = stepOutputSchema.extend({
  ...migrateBase,
  applied: z.array(z.unknown()).optional(),
  appliedCount: z.number().optional(),
  alreadyApplied: z.number().optional(),
  lint: z.unknown().optional(),
  dryRun: z.boolean().optional(),
  reverted: z.array(z.unknown()).optional(),
  revertedCount: z.number().optional(),
  sql: sqlObjectSchema.optional(),
  version: z.string().optional(),
  markedCount: z.number().optional(),
  marked: z.array(z.unknown()).optional(),
  alembicVersion: z.array(z.string()).nullable().optional(),
});
export type MigrateOutput = z.infer<typeof migrateOutputSchema>;

/** `migrate` with `operation: verify`: the applied migrations against the files (a connection failure is an answer). */
export const verifyOutputSchema = stepOutputSchema.extend({
  ...migrateBase,
  severity: z.enum(['ok', 'warning', 'error']).optional(),
  problems: z.array(z.unknown()).optional(),
  pending: z.array(z.unknown()).optional(),
  failed: z.array(z.unknown()).optional(),
  invalidIndexes: z.array(z.unknown()).optional(),
  connection: z.looseObject({ ok: z.boolean(), error: z.string().optional() }).optional(),
});
export type VerifyOutput = z.infer<typeof verifyOutputSchema>;

/** The size probe (`preflight` with `operation: size`): what the runner choice reads. Every number in bytes. */
export const sizeOutputSchema = stepOutputSchema.extend({
  databaseSizeBytes: z.number().optional(),
  backupKey: z.string().optional(),
  backupSizeBytes: z.number().optional(),
  backupCompression: z.string().optional(),
  restoreSizeBytes: z.number().optional(),
});
export type SizeOutput = z.infer<typeof sizeOutputSchema>;

/** One pre-flight check's verdict. `skipped` is never a pass: it says why the check could not run. */
export const preflightCheckSchema = z.looseObject({
  id: z.string(),
  status: z.enum(['pass', 'warn', 'fail', 'skipped']),
  /** What was measured (bytes free, seconds open, pids...), for the report's checklist. */
  value: z.unknown().optional(),
  /** What it means and what to do. */
  message: z.string(),
});
export type PreflightCheckResult = z.infer<typeof preflightCheckSchema>;

/** A session pre-flight terminated because the input asked for it, named for the people who own it. */
const terminatedSchema = z.looseObject({
  pid: z.number(),
  user: z.string().nullable(),
  application: z.string(),
});
export type TerminatedSession = z.infer<typeof terminatedSchema>;

/** `preflight`: `ok` false when any check failed (the state machine stops before the backup). */
export const preflightOutputSchema = stepOutputSchema.extend({
  /** The timeouts check's choice of runner for apply, which `Apply runner?` reads. */
  applyRunner: z.string().optional(),
  checks: z.array(preflightCheckSchema).optional(),
  terminated: z.array(terminatedSchema).optional(),
});
export type PreflightOutput = z.infer<typeof preflightOutputSchema>;

/** `backup`: the dump and its manifest in S3. */
export const backupOutputSchema = stepOutputSchema.extend({
  database: z.string().optional(),
  key: z.string().optional(),
  manifestKey: z.string().optional(),
  sizeBytes: z.number().optional(),
  sha256: z.string().optional(),
  durationMs: z.number().optional(),
  compression: z.string().optional(),
  verified: z.boolean().optional(),
});
export type BackupOutput = z.infer<typeof backupOutputSchema>;

/** Fields of every output of the schema function (snapshot, diff, drift). */
const schemaBase = { operation: z.string().optional(), database: z.string().optional() };

/** `schema` with `operation: snapshot` (`results.snapshotBefore`, `results.snapshotAfter`). */
export const snapshotOutputSchema = stepOutputSchema.extend({
  ...schemaBase,
  phase: z.enum(['before', 'after']).optional(),
  objectCounts: counts.optional(),
  recordedAsLatest: z.boolean().optional(),
});
export type SnapshotOutput = z.infer<typeof snapshotOutputSchema>;

/** `schema` with `operation: diff`: the two snapshots compared (the diff itself is at `written.json`). */
export const diffOutputSchema = stepOutputSchema.extend({
  ...schemaBase,
  counts: counts.optional(),
  destructive: z.boolean().optional(),
  /** Changes per hazard kind (lambdas/schema/hazards.ts); kinds no change carries are absent. */
  hazards: counts.optional(),
});
export type DiffOutput = z.infer<typeof diffOutputSchema>;

/** `schema` with `operation: drift`: the live schema against the one recorded after the last change. */
export const driftOutputSchema = stepOutputSchema.extend({
  ...schemaBase,
  checked: z.boolean().optional(),
  counts: counts.optional(),
  summary: z.array(z.unknown()).optional(),
  recordedKey: z.string().nullable().optional(),
});
export type DriftOutput = z.infer<typeof driftOutputSchema>;

/**
 * `report`: where the report is. When it could not be written after a run whose work succeeded, the state
 * machine puts `{ step: 'report', ok: false, warning, error }` here instead (lib/workflow.ts).
 */
export const reportOutputSchema = stepOutputSchema.extend({
  database: z.string().optional(),
  htmlUrl: z.string().optional(),
  databaseSizeBytes: z.number().optional(),
  tableCount: z.number().optional(),
  appliedMigrations: z.number().optional(),
  backups: z.number().optional(),
  schemaChanges: z.unknown().optional(),
  warning: z.string().optional(),
  error: caughtErrorSchema.optional(),
});
export type ReportOutput = z.infer<typeof reportOutputSchema>;

/** `restore` with `operation` restore (the database replaced, the previous one kept) or cleanup. */
export const restoreOutputSchema = stepOutputSchema.extend({
  operation: z.string().optional(),
  database: z.string().optional(),
  backupKey: z.string().optional(),
  backupFinishedAt: z.string().optional(),
  preRestoreBackup: z.unknown().optional(),
  previousDatabase: z.string().nullable().optional(),
  terminatedConnections: z.number().optional(),
  droppedCopies: z.array(z.string()).optional(),
  durationMs: z.number().optional(),
  dropped: z.array(z.string()).optional(),
  kept: z.array(z.string()).optional(),
});
export type RestoreOutput = z.infer<typeof restoreOutputSchema>;

/** `notify` (alerts, the watchdog): a publish or schedule failure is `ok: false`, never thrown. */
export const notifyOutputSchema = stepOutputSchema;
export type NotifyOutput = StepOutput;

/** An alert state's result: the notify output, or what its Catch put there (an alert never stops a run). */
const alertResultSchema = z.union([notifyOutputSchema, caughtErrorSchema]);

/**
 * Where the state machine puts each step's output (`ResultPath: $.results.<name>`). Order of a migrate run:
 * plan (plan + lint + analysis, read-only) → preflight → backup → snapshotBefore → [dry run ends here] →
 * migrate (apply) → snapshotAfter → diff → report. The backup, downgrade and restore actions start with `size`.
 */
export const stepResultsSchema = z.looseObject({
  plan: planOutputSchema.optional(),
  /** The size probe (preflight/size) the runner choice of backup, downgrade and restore reads. */
  size: sizeOutputSchema.optional(),
  preflight: preflightOutputSchema.optional(),
  backup: backupOutputSchema.optional(),
  snapshotBefore: snapshotOutputSchema.optional(),
  migrate: migrateOutputSchema.optional(),
  /** The Lambda apply stopped between migrations (MigrationTimeBudgetError) and Fargate continued. */
  migrateStopped: caughtErrorSchema.optional(),
  snapshotAfter: snapshotOutputSchema.optional(),
  diff: diffOutputSchema.optional(),
  report: reportOutputSchema.optional(),
  restore: restoreOutputSchema.optional(),
  verify: verifyOutputSchema.optional(),
  drift: driftOutputSchema.optional(),
  notify: alertResultSchema.optional(),
  watchdog: alertResultSchema.optional(),
});
export type StepResults = z.infer<typeof stepResultsSchema>;
/** The names of the results the state machine writes. */
export type StepResultName = keyof typeof stepResultsSchema.shape;
