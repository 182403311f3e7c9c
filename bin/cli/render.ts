import { parseCaughtError } from '../../lambdas/notify';
import type { ObjectStore } from '../../lambdas/shared/s3';
import type { StepResults } from '../../lambdas/shared/step';
import { stepOutputSchema } from '../../lambdas/shared/step-outputs';
import { loadStepResults } from '../../lambdas/shared/step-budget';
import type { LocalRunResult, StateEvent } from './local-runner';
import type { Io } from './output';
import { errorMessage } from '../../lambdas/shared/errors';
import { formatBytes } from '../../lambdas/shared/format';

/** Every S3 key the run wrote, as `<result>.<what>` (e.g. `backup.dump`, `report.html`). */
export function writtenKeys(results: StepResults): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, result] of Object.entries(results)) {
    // A caught error (`migrateStopped`, an alert state's) is no step output and wrote nothing.
    const output = stepOutputSchema.safeParse(result);
    for (const [what, key] of Object.entries((output.success && output.data.written) || {})) {
      out[`${name}.${what}`] = key;
    }
  }
  return out;
}

/**
 * The run with each result whole: outputs the workflow state carried without their large fields (over the
 * budget, lambdas/shared/step-budget.ts) are read back from S3. When that fails the run is shown as the state
 * had it, and the returned note says why.
 */
export async function withWholeResults(
  run: LocalRunResult,
  store: ObjectStore,
): Promise<{ run: LocalRunResult; note?: string }> {
  if (!run.state) return { run };
  try {
    return {
      run: { ...run, state: { ...run.state, results: await loadStepResults(store, run.state.results) } },
    };
  } catch (err) {
    return {
      run,
      note: `some results are shown as the workflow state carried them: ${errorMessage(err)}`,
    };
  }
}

/** The one JSON document `--json` prints: at least `{ action, ok, database }` plus every key written. */
export function runDocument(
  action: string,
  database: string | undefined,
  run: LocalRunResult,
): Record<string, unknown> {
  const results = run.state?.results ?? {};
  return {
    action,
    ok: run.ok,
    database: run.state?.input?.database ?? database,
    executionId: run.executionId,
    durationMs: run.durationMs,
    ...(run.error ? { error: run.error } : {}),
    written: writtenKeys(results),
    results,
    states: run.visited,
  };
}

/** Progress on stderr: one line per finished state (a terminal would otherwise show nothing for minutes). */
export function progressPrinter(io: Io): (event: StateEvent) => void {
  return (event) => {
    // Choice and Pass states are routing: a person wants to see the work (Tasks) and the outcome (Fail).
    if (event.stateType === 'Choice' || event.stateType === 'Pass' || event.stateType === 'Succeed') return;
    if (event.type === 'entered') {
      if (io.tty) process.stderr.write(`  … ${event.state}\r`);
      return;
    }
    if (event.type === 'exited') io.err(`  ✓ ${event.state}`);
    if (event.type === 'retried') io.err(`  ↻ ${event.state}: retrying`);
    if (event.type === 'failed') {
      io.err(`  ✗ ${event.state}${event.error ? `: ${event.error}` : ''}`);
    }
  };
}

function line(label: string, value: unknown): string {
  return `  ${label.padEnd(18)} ${String(value)}`;
}

/** The outcome line: `pgshift <action> on <db>: ok (12.3s)`, or the error that ended the run. */
function outcomeLine(action: string, run: LocalRunResult): string {
  const database = run.state?.input?.database ?? '?';
  return run.ok
    ? `pgshift ${action} on ${database}: ok (${(run.durationMs / 1000).toFixed(1)}s)`
    : `pgshift ${action} on ${database}: ${run.error?.name ?? 'failed'}: ${run.error?.message ?? ''}`;
}

/** The plan's pending migrations, lint counts and its first findings. */
function planLines(plan: StepResults['plan']): string[] {
  const out: string[] = [];
  const pending = plan?.pending;
  if (pending) {
    const names = pending.map(
      (p) =>
        `${p.version}_${p.name}${p.noTransaction ? ' (no transaction)' : ''}${p.empty ? ' (empty)' : ''}`,
    );
    out.push(line('pending', names.length === 0 ? 'none' : names.join(', ')));
  }
  if (plan?.lint)
    out.push(line('lint', `${plan.lint.errors ?? 0} error(s), ${plan.lint.warnings ?? 0} warning(s)`));
  for (const f of (plan?.findings ?? []).slice(0, 10)) {
    out.push(`    ${f.severity === 'error' ? '✗' : '⚠'} ${f.file}:${f.line} [${f.rule}] ${f.message}`);
  }
  return out;
}

/** What the run did: backup, plan, pre-flight, migrations, schema changes, restore, the report's warning. */
function resultLines(r: StepResults, ok: boolean): string[] {
  const out: string[] = [];
  const backup = r.backup;
  if (backup?.key) {
    const size = backup.sizeBytes ? ` (${formatBytes(backup.sizeBytes, { wholeBytes: true })})` : '';
    out.push(line('backup', `${backup.key}${size}`));
  }
  out.push(...planLines(r.plan));
  const checks = r.preflight?.checks;
  if (checks) out.push(line('pre-flight', checks.map((c) => `${c.id}=${c.status}`).join(' ')));
  if (r.migrate?.applied) out.push(line('applied', r.migrate.applied.length));
  if (r.migrate?.reverted) out.push(line('reverted', r.migrate.reverted.length));
  const counts = r.diff?.counts;
  if (counts) {
    const changes = Object.entries(counts).map(([k, v]) => `${v} ${k}`);
    out.push(line('schema changes', changes.join(', ')));
  }
  if (r.restore?.previousDatabase) out.push(line('previous db kept', r.restore.previousDatabase));
  if (ok && r.report?.ok === false) {
    const why = parseCaughtError(r.report.error);
    out.push(line('report', `⚠ not written: ${why?.name ?? 'Error'}: ${why?.message ?? ''}`));
  }
  return out;
}

/** The human summary after a local run: outcome, what was done, where everything is. */
export function humanSummary(action: string, run: LocalRunResult): string {
  const r = run.state?.results ?? {};
  const out = [outcomeLine(action, run), ...resultLines(r, run.ok)];
  const keys = Object.entries(writtenKeys(r));
  if (keys.length > 0) {
    out.push('  written:');
    for (const [what, key] of keys) out.push(`    ${what.padEnd(24)} ${key}`);
  }
  if (!run.ok) out.push(nothingLostNote(run));
  return out.join('\n');
}

/** Says what state things are in after a failure (the CLI promise: nothing lost, and where it stands). */
function nothingLostNote(run: LocalRunResult): string {
  const r = run.state?.results ?? {};
  const name = run.error?.name ?? '';
  if (['InputValidationError', 'ConfigurationError'].includes(name)) return '  nothing was started.';
  if (r.migrate === undefined && r.restore === undefined) {
    return r.backup?.key
      ? `  the database was not changed; a backup was taken: ${r.backup.key}`
      : '  the database was not changed.';
  }
  return '  see the report and the history table pgshift.history for what was applied before the failure.';
}
