import type { ClientBase } from 'pg';
import { queryOneRow } from '../../shared/db';
import type { PreflightCheckResult } from '../../shared/step';
import { PREFLIGHT_BYTES, estimateCosts, formatSeconds } from '../estimate';
import type { CheckContext, PreflightCheck } from '../types';
import type { PreflightThresholds } from '../thresholds';
import { formatBytes } from '../../shared/format';

interface Replica {
  pid: number;
  application: string;
  client: string | null;
  state: string | null;
  replay_lag_seconds: number | null;
  replay_lag_bytes: number | null;
}

interface ReplicationSlot {
  slot_name: string;
  slot_type: string;
  active: boolean;
  retained_bytes: number | null;
}

/** The primary's streaming replicas and how far behind each replays (null when hidden without pg_monitor). */
async function readReplicas(client: ClientBase): Promise<Replica[]> {
  const { rows } = await client.query<
    Omit<Replica, 'replay_lag_bytes'> & { replay_lag_bytes: string | null }
  >(
    `SELECT pid, application_name AS application, client_addr::text AS client, state,
              extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds,
              pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text AS replay_lag_bytes
         FROM pg_stat_replication ORDER BY pid`,
  );
  return rows.map((r) => ({
    ...r,
    replay_lag_bytes: r.replay_lag_bytes === null ? null : Number(r.replay_lag_bytes),
  }));
}

/** The replication slots and the WAL each keeps on the primary. */
async function readSlots(client: ClientBase): Promise<ReplicationSlot[]> {
  const { rows } = await client.query<
    Omit<ReplicationSlot, 'retained_bytes'> & { retained_bytes: string | null }
  >(
    `SELECT slot_name, slot_type, active,
              pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained_bytes
         FROM pg_replication_slots ORDER BY slot_name`,
  );
  return rows.map((s) => ({
    ...s,
    retained_bytes: s.retained_bytes === null ? null : Number(s.retained_bytes),
  }));
}

/** What about the replicas and slots may fill the primary's disk or hide from pgshift, one sentence each. */
function replicationProblems(
  replicas: Replica[],
  slots: ReplicationSlot[],
  th: PreflightThresholds,
  rewriteWal: number,
): string[] {
  const problems: string[] = [];
  for (const r of replicas) {
    if (r.replay_lag_seconds === null && r.replay_lag_bytes === null && r.state === null) {
      problems.push(`replica pid ${r.pid}: details hidden (grant pg_monitor to pgshift's role)`);
    } else if ((r.replay_lag_seconds ?? 0) > th.replicationLagSeconds) {
      problems.push(
        `replica "${r.application}" (${r.client ?? 'local'}) replays ${formatSeconds(r.replay_lag_seconds ?? 0)} behind`,
      );
    }
  }
  for (const s of slots) {
    const retained = s.retained_bytes ?? 0;
    if (retained > th.slotRetainedWalBytes) {
      problems.push(
        `slot "${s.slot_name}" (${s.active ? 'active' : 'inactive'}) retains ${formatBytes(retained, PREFLIGHT_BYTES)} of WAL`,
      );
    } else if (!s.active && rewriteWal > 0) {
      problems.push(
        `inactive slot "${s.slot_name}" will retain all ${formatBytes(rewriteWal, PREFLIGHT_BYTES)} of WAL the migration's rewrites generate`,
      );
    }
  }
  return problems;
}

/**
 * replication: on a primary, each streaming replica's replay lag and each replication slot's retained WAL;
 * a big rewrite adds its own WAL on top, which a lagging replica or an inactive slot keeps on the primary's disk.
 */
export const replicationCheck: PreflightCheck = {
  id: 'replication',
  // Advisory: lag and retained WAL never stop a migration on their own, so neither does being unable to read them.
  statusWhenUnrunnable: 'warn',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    const th = ctx.thresholds;
    const recovery = await queryOneRow<{ standby: boolean }>(
      ctx.client,
      'SELECT pg_is_in_recovery() AS standby',
    );
    if (recovery.standby) {
      return {
        id: this.id,
        status: 'fail',
        value: { role: 'standby' },
        message: 'Connected to a standby (read-only): point pgshift at the primary.',
      };
    }
    const replicas = await readReplicas(ctx.client);
    const slots = await readSlots(ctx.client);
    const rewriteWal = estimateCosts(ctx.analyses, ctx.relations, th).reduce((sum, c) => sum + c.walBytes, 0);
    const value = { role: 'primary', replicas, slots, estimatedMigrationWalBytes: rewriteWal };
    if (replicas.length === 0 && slots.length === 0) {
      return {
        id: this.id,
        status: 'pass',
        value,
        message:
          'Primary without streaming replicas or replication slots: no replication lag or WAL retention to check.',
      };
    }
    const problems = replicationProblems(replicas, slots, th, rewriteWal);
    const summary = `${replicas.length} streaming replica(s), ${slots.length} replication slot(s)`;
    if (problems.length > 0) {
      return {
        id: this.id,
        status: 'warn',
        value,
        message:
          `${summary}: ${problems.join('; ')}. Let replicas catch up and drop unused slots ` +
          `(SELECT pg_drop_replication_slot(name)) before a large rewrite, or the WAL fills the primary's disk.`,
      };
    }
    return {
      id: this.id,
      status: 'pass',
      value,
      message: `${summary}; replay lag and retained WAL under the thresholds.`,
    };
  },
};
