import type { PreflightCheckResult } from '../../shared/step';
import { PREFLIGHT_BYTES, estimateCosts, formatSeconds } from '../estimate';
import type { CheckContext, PreflightCheck } from '../types';
import { formatBytes } from '../../shared/format';

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
    const recovery = await ctx.client.query<{ standby: boolean }>('SELECT pg_is_in_recovery() AS standby');
    if (recovery.rows[0].standby) {
      return {
        id: this.id,
        status: 'fail',
        value: { role: 'standby' },
        message: 'Connected to a standby (read-only): point pgshift at the primary.',
      };
    }
    const replicas = (
      await ctx.client.query<{
        pid: number;
        application: string;
        client: string | null;
        state: string | null;
        replay_lag_seconds: number | null;
        replay_lag_bytes: string | null;
      }>(
        `SELECT pid, application_name AS application, client_addr::text AS client, state,
                extract(epoch FROM replay_lag)::float8 AS replay_lag_seconds,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::text AS replay_lag_bytes
           FROM pg_stat_replication ORDER BY pid`,
      )
    ).rows.map((r) => ({
      ...r,
      replay_lag_bytes: r.replay_lag_bytes === null ? null : Number(r.replay_lag_bytes),
    }));
    const slots = (
      await ctx.client.query<{
        slot_name: string;
        slot_type: string;
        active: boolean;
        retained_bytes: string | null;
      }>(
        `SELECT slot_name, slot_type, active,
                pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::text AS retained_bytes
           FROM pg_replication_slots ORDER BY slot_name`,
      )
    ).rows.map((s) => ({
      ...s,
      retained_bytes: s.retained_bytes === null ? null : Number(s.retained_bytes),
    }));
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
