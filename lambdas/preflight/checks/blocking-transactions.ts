import type { LockLevel } from '../../shared/analysis';
import type { PreflightCheckResult } from '../../shared/step';
import { formatSeconds } from '../estimate';
import { lockLevelFromPgLocksMode, locksConflict } from '../locks';
import type { CheckContext, PreflightCheck } from '../types';

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

/** A session pgshift terminated because the input asked for it. */
export interface TerminatedSession {
  pid: number;
  user: string | null;
  application: string;
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
 * Sessions of this database (locks on its tables can only come from here) whose transaction is long, idle in
 * transaction, or holds a lock that conflicts with what a pending migration takes on a table it touches.
 */
async function findBlockingSessions(ctx: CheckContext): Promise<BlockingSession[]> {
  const th = ctx.thresholds;
  const activity = await ctx.client.query<ActivityRow>(
    `SELECT pid, usename, application_name, state,
            extract(epoch FROM clock_timestamp() - xact_start)::float8 AS xact_seconds,
            extract(epoch FROM clock_timestamp() - state_change)::float8 AS state_seconds,
            left(query, 200) AS query
       FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
        AND xact_start IS NOT NULL`,
  );
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
    if (!rel || !held || !locksConflict(rel.strongestLock as LockLevel, held)) continue;
    const what = `${l.granted ? 'holds' : 'waits for'} ${l.mode} on ${rel.schema}.${rel.table}, which conflicts with the migration's ${rel.strongestLock}`;
    lockReasons.set(l.pid, [...(lockReasons.get(l.pid) ?? []), what]);
  }
  const out: BlockingSession[] = [];
  for (const a of activity.rows) {
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
  return out.sort((x, y) => x.pid - y.pid);
}

/** Terminates the given sessions if they are still idle in transaction; returns those that went away. */
async function terminateIdle(ctx: CheckContext, pids: number[]): Promise<TerminatedSession[]> {
  if (pids.length === 0) return [];
  // Since PostgreSQL 14 pg_terminate_backend can wait for the backend to exit, so the re-check sees it gone.
  const terminate =
    ctx.server.num >= 140000 ? 'pg_terminate_backend(pid, 5000)' : 'pg_terminate_backend(pid)';
  const res = await ctx.client.query<{
    pid: number;
    usename: string | null;
    application_name: string;
    ok: boolean;
  }>(
    `SELECT pid, usename, application_name, ${terminate} AS ok
       FROM pg_stat_activity
      WHERE pid = ANY($1::int[]) AND datname = current_database() AND state LIKE 'idle in transaction%'`,
    [pids],
  );
  return res.rows
    .filter((r) => r.ok)
    .map((r) => ({ pid: r.pid, user: r.usename, application: r.application_name }));
}

function describe(s: BlockingSession): string {
  return `pid ${s.pid} (user ${s.user ?? '?'}, application "${s.application}"): ${s.reasons.join('; ')}`;
}

/** blocking-transactions: long transactions, idle-in-transaction sessions and lock holders on touched tables. */
export const blockingTransactionsCheck: PreflightCheck = {
  id: 'blocking-transactions',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    let blocking = await findBlockingSessions(ctx);
    let terminated: TerminatedSession[] = [];
    if (ctx.options.terminateIdleInTransaction) {
      const idle = blocking.filter((s) => s.state?.startsWith('idle in transaction')).map((s) => s.pid);
      terminated = await terminateIdle(ctx, idle);
      for (const t of terminated) {
        ctx.deps.log.warn('terminated an idle-in-transaction session that blocked the migration', { ...t });
      }
      if (terminated.length > 0) blocking = await findBlockingSessions(ctx);
    }
    const value = { blocking, terminated };
    const terminatedText =
      terminated.length === 0
        ? ''
        : ` Terminated on request: ${terminated.map((t) => `pid ${t.pid} (user ${t.user ?? '?'}, application "${t.application}")`).join(', ')}.`;
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
          `(SELECT pg_terminate_backend(pid)), then retry.${idleHint}${terminatedText}`,
      };
    }
    if (terminated.length > 0) {
      return {
        id: this.id,
        status: 'warn',
        value,
        message: `No blocking sessions remain.${terminatedText} Their applications saw their transactions rolled back.`,
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
