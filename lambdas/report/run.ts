import type { StepOutput, StepResultName, StepResults } from '../shared/step';

/** One line of the run's checklist (pre-flight checks, and each step's verdict). */
export interface ChecklistItem {
  id: string;
  status: 'pass' | 'warn' | 'fail' | 'skipped';
  message: string;
}

/** What this execution's earlier steps said, reduced to what a reader of the report needs. */
export interface RunSummary {
  /** Steps that ran, in workflow order, with their verdict. */
  steps: { name: string; ok: boolean }[];
  /** Which migrations the run used: a bundle (key and sha256) or the files deployed with the function. */
  migrations?: { source: 'bundle' | 'deployed'; bundle?: string; sha256?: string; count?: number };
  plan?: { pendingCount?: number; pending?: unknown[]; lint?: unknown; blocking?: boolean };
  preflight?: { ok: boolean; checks: ChecklistItem[] };
  backup?: { key?: string; sizeBytes?: number; verified?: boolean; durationMs?: number };
  diff?: { counts?: unknown; destructive?: boolean };
  migrate?: { appliedCount?: number; applied?: unknown[]; reverted?: unknown[]; operation?: unknown };
  restore?: { backupKey?: unknown; previousDatabase?: unknown; operation?: unknown };
  verify?: { ok: boolean; problems?: unknown[] };
  drift?: { ok: boolean; checked?: unknown; summary?: unknown[] };
}

const STEP_ORDER = [
  'plan',
  'preflight',
  'backup',
  'snapshotBefore',
  'migrate',
  'snapshotAfter',
  'diff',
  'restore',
  'verify',
  'drift',
] as const satisfies readonly StepResultName[];

function pick(out: StepOutput, fields: string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((f) => out[f] !== undefined).map((f) => [f, out[f]]));
}

function firstItems(v: unknown, n: number): unknown[] | undefined {
  return Array.isArray(v) ? v.slice(0, n) : undefined;
}

/** Folds in whatever earlier results the event carries; absent steps are simply absent. */
export function summarizeRun(results: StepResults): RunSummary {
  const steps = STEP_ORDER.filter((n) => results[n]).map((n) => ({ name: n, ok: results[n]?.ok === true }));
  const run: RunSummary = { steps };
  const { plan, preflight, backup, diff, migrate, restore, verify, drift } = results;
  const source = plan?.migrations ?? migrate?.migrations ?? verify?.migrations;
  // The output contract keeps `source` a string: only the two values pgshift writes reach the report.
  if (source?.source === 'bundle' || source?.source === 'deployed')
    run.migrations = { ...source, source: source.source };
  if (plan)
    run.plan = { ...pick(plan, ['pendingCount', 'lint', 'blocking']), pending: firstItems(plan.pending, 50) };
  if (preflight)
    run.preflight = {
      ok: preflight.ok === true,
      checks: (preflight.checks ?? []).map((c) => ({ id: c.id, status: c.status, message: c.message })),
    };
  if (backup) run.backup = pick(backup, ['key', 'sizeBytes', 'verified', 'durationMs']);
  if (diff) run.diff = pick(diff, ['counts', 'destructive']);
  if (migrate)
    run.migrate = {
      ...pick(migrate, ['appliedCount', 'operation']),
      applied: firstItems(migrate.applied, 50),
      reverted: firstItems(migrate.reverted, 50),
    };
  if (restore) run.restore = pick(restore, ['backupKey', 'previousDatabase', 'operation']);
  if (verify) run.verify = { ok: verify.ok === true, problems: firstItems(verify.problems, 30) };
  if (drift)
    run.drift = { ok: drift.ok === true, checked: drift.checked, summary: firstItems(drift.summary, 20) };
  return run;
}
