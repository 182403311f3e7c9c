import { z } from 'zod';
import { InputValidationError } from './errors';

/** The actions one execution can run; each is a branch of the state machine and a `pgshift local` command. */
export const ACTIONS = [
  'migrate',
  'backup',
  'report',
  'verify',
  'downgrade',
  'restore',
  'baseline',
  'preflight',
  'cleanup',
] as const;
export type Action = (typeof ACTIONS)[number];

const identifierLike = z.string().min(1).max(63);

/**
 * The execution input (console JSON, EventBridge schedule input, `pgshift start` flags). Unknown fields are
 * rejected so a typo (`dryrun`) never silently runs a real migration. Documented in docs/console-inputs.md.
 */
const executionInputShape = z.object({
  action: z.enum(ACTIONS),
  /** Logical database name; defaults to the configured one. Backups and reports are keyed by it. */
  database: identifierLike.optional(),
  dryRun: z.boolean().optional(),
  allowUnsafe: z.boolean().optional(),
  /** downgrade: how many migrations to revert. */
  steps: z.number().int().min(1).max(10000).optional(),
  /** downgrade: revert down to (and keeping) this version; baseline: mark the database as at this version. */
  toVersion: z.string().regex(/^\d+$/, 'must be a migration version (digits)').optional(),
  /** restore: an S3 key of a backup, or "latest". */
  backup: z.string().min(1).max(1024).optional(),
  /** restore: the database name typed again; the console has no prompt, this is the prompt. */
  confirm: z.string().optional(),
  /** restore: accept a backup whose manifest names another database. */
  allowOtherDatabase: z.boolean().optional(),
  /** backup: stream the object back through pg_restore --list and check its sha256. */
  verifyBackup: z.boolean().optional(),
  /**
   * migrate, backup, downgrade, restore: where the backup or restore runs. Without it the measured size decides
   * (docs/workflow.md, "Runners"); "lambda" keeps even a large one on Lambda.
   */
  runner: z.enum(['lambda', 'fargate']).optional(),
  /**
   * restore with runner "fargate": `pg_restore --jobs N` from the dump downloaded to the task's ephemeral storage
   * (its free space checked first). Without it the restore streams from S3 with one job.
   */
  restoreJobs: z.number().int().min(1).max(64).optional(),
  /** preflight: ids of checks to skip; `skipReason` is required with it and recorded in history. */
  skipPreflight: z.array(z.string().min(1)).optional(),
  skipReason: z.string().min(1).optional(),
  /** preflight: terminate idle-in-transaction sessions that block the migration (reported by pid). */
  terminateIdleInTransaction: z.boolean().optional(),
  /**
   * migrate/downgrade/verify/baseline/preflight: run the migrations of this bundle (`pgshift bundle DIR`)
   * instead of the folder baked into the migrate function at deploy; the step refuses a hash mismatch.
   */
  migrations: z
    .object({
      bundle: z.string().regex(/^bundles\/[0-9a-f]{64}\.json$/, 'must be a key bundles/<sha256>.json'),
      sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits'),
    })
    .strict()
    .optional(),
});

/** Strict: unknown fields are errors. */
export const executionInputSchema = executionInputShape.strict();

export type ExecutionInput = z.infer<typeof executionInputSchema>;

function issuePath(path: PropertyKey[]): string {
  return path.length === 0 ? 'input' : path.map(String).join('.');
}

/** Cross-field rules that a single field's type cannot say. */
function crossFieldProblems(input: ExecutionInput): string[] {
  const problems: string[] = [];
  const only = (field: keyof ExecutionInput, actions: Action[]): void => {
    if (input[field] !== undefined && !actions.includes(input.action)) {
      problems.push(`${field}: only applies to action ${actions.map((a) => `"${a}"`).join(' or ')}`);
    }
  };
  only('dryRun', ['migrate', 'downgrade']);
  only('allowUnsafe', ['migrate', 'downgrade']);
  only('steps', ['downgrade']);
  only('toVersion', ['downgrade', 'baseline']);
  only('backup', ['restore']);
  only('confirm', ['restore', 'cleanup']);
  only('allowOtherDatabase', ['restore']);
  only('restoreJobs', ['restore']);
  if (input.restoreJobs !== undefined && input.action === 'restore' && input.runner !== 'fargate') {
    problems.push(
      'restoreJobs: needs runner "fargate" (a parallel restore reads the dump from the Fargate task\'s ephemeral storage; on Lambda the restore streams with one job)',
    );
  }
  only('skipPreflight', ['migrate', 'preflight']);
  only('terminateIdleInTransaction', ['migrate', 'preflight']);
  only('migrations', ['migrate', 'downgrade', 'verify', 'baseline', 'preflight']);
  if (input.migrations && input.migrations.bundle !== `bundles/${input.migrations.sha256}.json`) {
    problems.push('migrations.bundle: must be bundles/<migrations.sha256>.json (the key names its content)');
  }
  if (input.action === 'downgrade' && input.steps !== undefined && input.toVersion !== undefined) {
    problems.push('downgrade: give either steps or toVersion, not both');
  }
  if (input.action === 'baseline' && input.toVersion === undefined) {
    problems.push('toVersion: required for action "baseline" (the version the database is already at)');
  }
  if (input.skipPreflight && input.skipPreflight.length > 0 && !input.skipReason) {
    problems.push('skipReason: required when skipPreflight names checks (it is recorded in history)');
  }
  return problems;
}

/** Validates execution input once, at the start; lists every problem in one InputValidationError. */
export function parseExecutionInput(raw: unknown): ExecutionInput {
  const parsed = executionInputSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      if (issue.code === 'unrecognized_keys') {
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      }
      return `${issuePath(issue.path)}: ${issue.message}`;
    });
    // Report cross-field problems too when the known fields are valid, so one round trip shows everything.
    const known = executionInputShape.safeParse(raw);
    if (known.success) problems.push(...crossFieldProblems(known.data));
    throw new InputValidationError(problems);
  }
  const problems = crossFieldProblems(parsed.data);
  if (problems.length > 0) throw new InputValidationError(problems);
  return parsed.data;
}
