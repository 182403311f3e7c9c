import { InputValidationError, PreflightFailedError, errorCode, errorMessage } from '../shared/errors';
import { ensureHistoryTables, recordHistoryEvent } from '../shared/history';
import { readServerPgVersion } from '../shared/pg-version';
import type { PreflightCheckResult, PreflightReport, TerminatedSession } from '../shared/step';
import { blockingTransactionsCheck } from './checks/blocking-transactions';
import { connectionsCheck } from './checks/connections';
import { diskSpaceCheck } from './checks/disk-space';
import { replicationCheck } from './checks/replication';
import { timeoutsCheck } from './checks/timeouts';
import { versionsCheck } from './checks/versions';
import { measureTouchedRelations } from './relations';
import { resolveThresholds } from './thresholds';
import {
  CHECK_IDS,
  type CheckContext,
  type PreflightCheck,
  type PreflightDeps,
  type PreflightOptions,
} from './types';

/** Every check, in report order. */
export const PREFLIGHT_CHECKS: readonly PreflightCheck[] = [
  diskSpaceCheck,
  blockingTransactionsCheck,
  connectionsCheck,
  replicationCheck,
  versionsCheck,
  timeoutsCheck,
];

function validateSkip(skip: PreflightOptions['skip']): Set<string> {
  const ids = skip?.ids ?? [];
  if (ids.length === 0) return new Set();
  const problems: string[] = [];
  const unknown = ids.filter((id) => !CHECK_IDS.some((known) => known === id));
  if (unknown.length > 0) {
    problems.push(
      `skipPreflight: unknown check id${unknown.length > 1 ? 's' : ''} ${unknown.map((u) => `"${u}"`).join(', ')} ` +
        `(known: ${CHECK_IDS.join(', ')})`,
    );
  }
  if (!skip?.reason?.trim())
    problems.push('skipReason: required when skipPreflight names checks (it is recorded in history)');
  if (problems.length > 0) throw new InputValidationError(problems);
  return new Set(ids);
}

/**
 * Checks that the database can take the pending migrations right now, before anything is written. Never
 * throws on a failed check (the report says `ok: false`); throws on bad input (unknown skip ids, no reason)
 * and when the database cannot be reached. Skipped checks are recorded in `pgshift.history` with the reason.
 */
export async function runPreflight(deps: PreflightDeps, options: PreflightOptions): Promise<PreflightReport> {
  const skipped = validateSkip(options.skip);
  const thresholds = resolveThresholds(options.thresholds);
  const client = await deps.connect();
  try {
    if (skipped.size > 0) {
      await ensureHistoryTables(client);
      await recordHistoryEvent(client, {
        event: 'preflight-skip',
        status: 'succeeded',
        executionId: options.executionId,
        details: { checks: [...skipped], reason: options.skip?.reason },
      });
      deps.log.warn('pre-flight checks skipped on request', {
        checks: [...skipped],
        reason: options.skip?.reason,
      });
    }
    const server = await readServerPgVersion(client);
    const ctx: CheckContext = {
      client,
      analyses: options.analyses,
      thresholds,
      server,
      relations: await measureTouchedRelations(client, options.analyses),
      deps,
      options,
    };
    const checks: PreflightCheckResult[] = [];
    for (const check of PREFLIGHT_CHECKS) {
      if (skipped.has(check.id)) {
        checks.push({
          id: check.id,
          status: 'skipped',
          message: `Skipped on request: ${options.skip?.reason}`,
        });
        continue;
      }
      checks.push(await runOne(check, ctx));
    }
    const report: PreflightReport = { ok: checks.every((c) => c.status !== 'fail'), checks };
    const terminated = terminatedSessions(checks);
    if (terminated.length > 0) report.terminated = terminated;
    deps.log.info('pre-flight checks done', {
      ok: report.ok,
      checks: checks.map((c) => ({ id: c.id, status: c.status })),
    });
    return report;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function terminatedSessions(checks: PreflightCheckResult[]): TerminatedSession[] {
  const blocking = checks.find((c) => c.id === 'blocking-transactions');
  const value = blocking?.value as { terminated?: TerminatedSession[] } | undefined;
  return value?.terminated ?? [];
}

/** A check that cannot run (permission denied, timeout) fails with the reason rather than passing silently. */
async function runOne(check: PreflightCheck, ctx: CheckContext): Promise<PreflightCheckResult> {
  try {
    return await check.run(ctx);
  } catch (err) {
    const error = errorMessage(err);
    const sqlState = errorCode(err);
    ctx.deps.log.error('pre-flight check could not run', { check: check.id, error, sqlState });
    return {
      id: check.id,
      status: check.statusWhenUnrunnable ?? 'fail',
      value: { error, sqlState },
      message:
        `Could not run this check: ${error}. Grant pgshift's role pg_monitor (and pg_signal_backend for ` +
        `terminateIdleInTransaction), or skip the check with skipPreflight and a reason.`,
    };
  }
}

/** For the CLI: throws PreflightFailedError naming each failed check when the report is not ok. */
export function assertPreflightPassed(report: PreflightReport): void {
  const failed = report.checks.filter((c) => c.status === 'fail');
  if (failed.length === 0) return;
  throw new PreflightFailedError(
    `Pre-flight failed (${failed.map((c) => c.id).join(', ')}): ${failed.map((c) => `${c.id}: ${c.message}`).join(' | ')}`,
    { details: { failed: failed.map((c) => ({ id: c.id, message: c.message, value: c.value })) } },
  );
}
