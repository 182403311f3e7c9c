import type { PreflightCheckResult, TerminatedSession } from '../../shared/step';
import { formatSeconds } from '../estimate';
import { lockLevelFromPgLocksMode, locksConflict } from '../locks';
import { CLIENT_BACKEND, type CheckContext, type PreflightCheck } from '../types';
import { errorMessage } from '../../shared/errors';

/** A session that would make the migration queue (and every query behind it). */
export interface BlockingSession {
  pid: number;
  user: string | null;
  application: string;
  state: string | null;
  transactionSeconds: number;
  stateSeconds: number;
  /** Why it blocks: long transaction, idle in transaction, conflicting lock on a touched table. */
  reasons: string[];
  query: string;
}

/** A session that was asked to be terminated but could not be (permission, already gone), and why. */
export interface UnterminatedSession {
  pid: number;
  error: string;
}

interface ActivityRow {
  pid: number;
  usename: string | null;
  application_name: string;
  state: string | null;
  xact_seconds: number | null;
  state_seconds: number | null;
  query: string;
}

/**
 * Per session, each lock it holds or waits for on a touched table that conflicts with the lock the migration
 * takes there (pg_locks is readable by every role).
 */
async function conflictingLockReasons(ctx: CheckContext): Promise<Map<number, string[]>> {
  const touched = ctx.relations.filter((r) => r.oid !== null);
  const locks =
    touched.length === 0
      ? []
      : (
          await ctx.client.query<{ pid: number; mode: string; granted: boolean; relation: string }>(
            `SELECT l.pid, l.mode, l.granted, l.relation::int8::text AS relation
               FROM pg_locks l
              WHERE l.locktype = 'relation' AND l.pid <> pg_backend_pid()
                AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                AND l.relation = ANY($1::oid[])`,
            [touched.map((r) => r.oid)],
          )
        ).rows;
  const relByOid = new Map(touched.map((r) => [String(r.oid), r]));
  const lockReasons = new Map<number, string[]>();
  for (const l of locks) {
    const rel = relByOid.get(l.relation);
    const held = lockLevelFromPgLocksMode(l.mode);
    if (!rel || !held || !locksConflict(rel.strongestLock, held)) continue;
    const what = `${l.granted ? 'holds' : 'waits for'} ${l.mode} on ${rel.schema}.${rel.table}, which conflicts with the migration's ${rel.strongestLock}`;
    lockReasons.set(l.pid, [...(lockReasons.get(l.pid) ?? []), what]);
  }
  return lockReasons;
}

/**
 * Sessions of this database (locks on its tables can only come from here) whose transaction is long, idle in
 * transaction, or holds a lock that conflicts with what a pending migration takes on a table it touches.
 */
async function findBlockingSessions(
  ctx: CheckContext,
): Promise<{ blocking: BlockingSession[]; hidden: number[] }> {
  const th = ctx.thresholds;
  const activity = await ctx.client.query<ActivityRow>(
    `SELECT pid, usename, application_name, state,
            extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_seconds,
            extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_seconds,
            left(query, 200) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND ${CLIENT_BACKEND}
        AND (xact_start IS NOT NULL OR state IS NULL)`,
  );
  const lockReasons = await conflictingLockReasons(ctx);
  const out: BlockingSession[] = [];
  // Without pg_monitor (pg_read_all_stats), other roles' sessions show no state or times: only pg_locks (readable
  // by all) still says what they hold. Such a session holding a conflicting lock blocks; the others are counted.
  const hidden: number[] = [];
  for (const a of activity.rows) {
    if (a.state === null) {
      const conflicting = lockReasons.get(a.pid);
      if (!conflicting) {
        hidden.push(a.pid);
        continue;
      }
      out.push({
        pid: a.pid,
        user: a.usename,
        application: a.application_name,
        state: null,
        transactionSeconds: 0,
        stateSeconds: 0,
        reasons: [...conflicting, "state hidden from pgshift's role (grant it pg_monitor)"],
        query: a.query,
      });
      continue;
    }
    const xactSeconds = a.xact_seconds ?? 0;
    const stateSeconds = a.state_seconds ?? 0;
    const idleInTx = a.state?.startsWith('idle in transaction') ?? false;
    const reasons: string[] = [];
    if (xactSeconds > th.longTransactionSeconds) {
      reasons.push(`transaction open for ${formatSeconds(xactSeconds)}`);
    }
    if (idleInTx && stateSeconds > th.idleInTransactionSeconds) {
      reasons.push(`${a.state} for ${formatSeconds(stateSeconds)}`);
    }
    // An idle holder releases its lock only when its application commits; an active one may finish soon.
    const conflicting = lockReasons.get(a.pid);
    if (conflicting && (idleInTx || xactSeconds > th.lockHolderSeconds)) reasons.push(...conflicting);
    if (reasons.length === 0) continue;
    out.push({
      pid: a.pid,
      user: a.usename,
      application: a.application_name,
      state: a.state,
      transactionSeconds: Math.round(xactSeconds * 10) / 10,
      stateSeconds: Math.round(stateSeconds * 10) / 10,
      reasons,
      query: a.query,
    });
  }
  return { blocking: out.sort((x, y) => x.pid - y.pid), hidden: hidden.sort((x, y) => x - y) };
}

/**
 * Terminates the given sessions if they are still idle in transaction, one at a time: pg_terminate_backend
 * raises an error for a session of a role we may not signal (RDS's rdsadmin, another superuser), and that one
 * must not stop the others. Returns those that went away and those that could not be terminated.
 */
async function terminateIdle(
  ctx: CheckContext,
  pids: number[],
): Promise<{ terminated: TerminatedSession[]; failed: UnterminatedSession[] }> {
  // Since PostgreSQL 14 pg_terminate_backend can wait for the backend to exit, so the re-check sees it gone.
  const terminate =
    ctx.server.num >= 140000 ? 'pg_terminate_backend(pid, 5000)' : 'pg_terminate_backend(pid)';
  const terminated: TerminatedSession[] = [];
  const failed: UnterminatedSession[] = [];
  for (const pid of pids) {
    try {
      const res = await ctx.client.query<{ usename: string | null; application_name: string; ok: boolean }>(
        `SELECT usename, application_name, ${terminate} AS ok
           FROM pg_stat_activity
          WHERE pid = $1 AND datname = current_database() AND state LIKE 'idle in transaction%'`,
        [pid],
      );
      const row = res.rows[0];
      if (row?.ok) terminated.push({ pid, user: row.usename, application: row.application_name });
      else if (row) failed.push({ pid, error: 'pg_terminate_backend returned false' });
    } catch (err) {
      failed.push({ pid, error: errorMessage(err) });
    }
  }
  return { terminated, failed };
}

function describe(s: BlockingSession): string {
  return `pid ${s.pid} (user ${s.user ?? '?'}, application "${s.application}"): ${s.reasons.join('; ')}`;
}

/** blocking-transactions: long transactions, idle-in-transaction sessions and lock holders on touched tables. */
export const blockingTransactionsCheck: PreflightCheck = {
  id: 'blocking-transactions',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    let { blocking, hidden } = await findBlockingSessions(ctx);
    let terminated: TerminatedSession[] = [];
    let failed: UnterminatedSession[] = [];
    if (ctx.options.terminateIdleInTransaction) {
      const idle = blocking.filter((s) => s.state?.startsWith('idle in transaction')).map((s) => s.pid);
      ({ terminated, failed } = await terminateIdle(ctx, idle));
      for (const t of terminated) {
        ctx.deps.log.warn('terminated an idle-in-transaction session that blocked the migration', { ...t });
      }
      for (const f of failed) {
        ctx.deps.log.warn('could not terminate an idle-in-transaction session', { ...f });
      }
      if (terminated.length > 0) ({ blocking, hidden } = await findBlockingSessions(ctx));
    }
    const value = {
      blocking,
      terminated,
      ...(failed.length > 0 ? { terminateFailed: failed } : {}),
      ...(hidden.length > 0 ? { hiddenSessions: hidden } : {}),
    };
    const hiddenText =
      hidden.length === 0
        ? ''
        : ` ${hidden.length} other session(s) (pid ${hidden.join(', ')}) hide their state from pgshift's role, so ` +
          `long or idle transactions among them cannot be seen: grant pgshift's role pg_monitor.`;
    const terminatedText =
      (terminated.length === 0
        ? ''
        : ` Terminated on request: ${terminated.map((t) => `pid ${t.pid} (user ${t.user ?? '?'}, application "${t.application}")`).join(', ')}.`) +
      (failed.length === 0
        ? ''
        : ` Could not terminate: ${failed.map((f) => `pid ${f.pid} (${f.error})`).join(', ')}.`);
    if (blocking.length > 0) {
      const idleHint = blocking.some((s) => s.state?.startsWith('idle in transaction'))
        ? ' Idle-in-transaction sessions can be terminated with terminateIdleInTransaction: true.'
        : '';
      return {
        id: this.id,
        status: ctx.thresholds.blockingStatus,
        value,
        message:
          `The migration would queue behind ${blocking.length} session(s), and every query on its tables ` +
          `behind it: ${blocking.map(describe).join(' | ')}. Let them finish or end them ` +
          `(SELECT pg_terminate_backend(pid)), then retry.${idleHint}${terminatedText}${hiddenText}`,
      };
    }
    if (terminated.length > 0) {
      return {
        id: this.id,
        status: 'warn',
        value,
        message: `No blocking sessions remain.${terminatedText} Their applications saw their transactions rolled back.${hiddenText}`,
      };
    }
    if (hidden.length > 0) {
      return {
        id: this.id,
        status: 'warn',
        value,
        message: `No visible session blocks the migration, and none holds a conflicting lock.${hiddenText}`,
      };
    }
    return {
      id: this.id,
      status: 'pass',
      value,
      message:
        `No transaction open over ${ctx.thresholds.longTransactionSeconds}s, idle in transaction over ` +
        `${ctx.thresholds.idleInTransactionSeconds}s, or holding a conflicting lock on the ` +
        `${ctx.relations.length} touched table(s).`,
    };
  },
};
