import { GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import type { PreflightCheckResult } from '../../shared/step';
import { PREFLIGHT_BYTES, estimateCosts, type TouchCost } from '../estimate';
import type { PreflightThresholds } from '../thresholds';
import type { CheckContext, PreflightCheck, StorageMetricsSource } from '../types';
import { errorMessage, errorName } from '../../shared/errors';
import { formatBytes } from '../../shared/format';

interface FreeStorage {
  metric: 'FreeStorageSpace' | 'FreeLocalStorage';
  bytes: number;
  at: string;
  source: string;
}

/**
 * Latest free storage from CloudWatch: an RDS instance's FreeStorageSpace, or for Aurora the writer's
 * FreeLocalStorage (the cluster volume grows by itself; sorts and index builds spill to local storage).
 */
async function readFreeStorage(src: StorageMetricsSource): Promise<FreeStorage | undefined> {
  const aurora = !src.rdsInstanceId && src.rdsClusterId !== undefined;
  const metric = aurora ? 'FreeLocalStorage' : 'FreeStorageSpace';
  const dimensions = aurora
    ? [
        { Name: 'DBClusterIdentifier', Value: src.rdsClusterId },
        { Name: 'Role', Value: 'WRITER' },
      ]
    : [{ Name: 'DBInstanceIdentifier', Value: src.rdsInstanceId }];
  const end = new Date();
  const res = await src.cloudWatch.send(
    new GetMetricDataCommand({
      StartTime: new Date(end.getTime() - 30 * 60 * 1000),
      EndTime: end,
      ScanBy: 'TimestampDescending',
      MetricDataQueries: [
        {
          Id: 'free',
          MetricStat: {
            Metric: { Namespace: 'AWS/RDS', MetricName: metric, Dimensions: dimensions },
            Period: 60,
            Stat: 'Minimum',
          },
        },
      ],
    }),
  );
  const series = res.MetricDataResults?.find((r) => r.Id === 'free');
  const value = series?.Values?.[0];
  if (value === undefined) return undefined;
  return {
    metric,
    bytes: value,
    at: series?.Timestamps?.[0]?.toISOString() ?? end.toISOString(),
    source: aurora ? `Aurora cluster ${src.rdsClusterId} (writer)` : `RDS instance ${src.rdsInstanceId}`,
  };
}

/** What the pending rewrites and index builds may write to the instance's disk, in all and per table. */
function diskNeeds(ctx: CheckContext): { requiredBytes: number; tables: DiskNeed[] } {
  const th = ctx.thresholds;
  const costs = estimateCosts(ctx.analyses, ctx.relations, th).filter((c) => c.kind !== 'full-scan');
  const aurora = !ctx.deps.storageMetrics?.rdsInstanceId && !!ctx.deps.storageMetrics?.rdsClusterId;
  // On Aurora, rewrites land on the self-growing cluster volume; only sort/temp space of index builds is local.
  const counted = aurora ? costs.filter((c) => c.kind === 'index-build') : costs;
  const requiredBytes = Math.ceil(
    counted.reduce((sum, c) => sum + c.diskBytes + (aurora ? 0 : c.walBytes), 0) * th.diskSafetyFactor,
  );
  const tables = counted.map((c) => ({
    table: c.table,
    kind: c.kind,
    migration: c.migration,
    bytes: c.diskBytes,
    walBytes: aurora ? 0 : c.walBytes,
  }));
  return { requiredBytes, tables };
}

interface DiskNeed {
  table: string;
  kind: TouchCost['kind'];
  migration: string;
  bytes: number;
  walBytes: number;
}

/** Free storage against what the migrations need: fail when it does not fit, warn when it fits narrowly. */
function diskVerdict(
  id: string,
  free: FreeStorage,
  requiredBytes: number,
  tables: DiskNeed[],
  th: PreflightThresholds,
): PreflightCheckResult {
  const value = { freeBytes: free.bytes, metric: free.metric, at: free.at, requiredBytes, tables };
  const need = `need about ${formatBytes(requiredBytes, PREFLIGHT_BYTES)} (rewrites/index builds + WAL, x${th.diskSafetyFactor})`;
  if (requiredBytes > free.bytes) {
    return {
      id,
      status: 'fail',
      value,
      message:
        `${free.source} has ${formatBytes(free.bytes, PREFLIGHT_BYTES)} free (${free.metric}) but the pending migrations ${need}. ` +
        `Grow the storage first, or rewrite the table in batches (new column + backfill) instead.`,
    };
  }
  if (requiredBytes > free.bytes * th.diskWarnRatio) {
    return {
      id,
      status: 'warn',
      value,
      message:
        `${free.source} has ${formatBytes(free.bytes, PREFLIGHT_BYTES)} free; the pending migrations ${need}, more than ` +
        `${Math.round(th.diskWarnRatio * 100)}% of it. Consider growing the storage first.`,
    };
  }
  return {
    id,
    status: 'pass',
    value,
    message: `${free.source} has ${formatBytes(free.bytes, PREFLIGHT_BYTES)} free; the pending migrations ${need}.`,
  };
}

/** disk-space: free storage on the instance against what the pending rewrites and index builds may write. */
export const diskSpaceCheck: PreflightCheck = {
  id: 'disk-space',
  async run(ctx: CheckContext): Promise<PreflightCheckResult> {
    const th = ctx.thresholds;
    const { requiredBytes, tables } = diskNeeds(ctx);
    const src = ctx.deps.storageMetrics;
    if (!src || (!src.rdsInstanceId && !src.rdsClusterId)) {
      return {
        id: this.id,
        status: 'skipped',
        value: { requiredBytes, tables },
        message:
          `Free storage unknown: no CloudWatch source configured (local run, or PGSHIFT_RDS_INSTANCE_ID / ` +
          `PGSHIFT_RDS_CLUSTER_ID unset). The pending migrations may need about ${formatBytes(requiredBytes, PREFLIGHT_BYTES)}; ` +
          `check the server's free disk yourself.`,
      };
    }
    let free: FreeStorage | undefined;
    try {
      free = await readFreeStorage(src);
    } catch (err) {
      return {
        id: this.id,
        status: 'warn',
        value: { requiredBytes, tables },
        message:
          `Could not read free storage from CloudWatch (${errorName(err)}: ${errorMessage(err)}); ` +
          `the pending migrations may need about ${formatBytes(requiredBytes, PREFLIGHT_BYTES)}. Grant cloudwatch:GetMetricData.`,
      };
    }
    if (!free) {
      return {
        id: this.id,
        status: 'warn',
        value: { requiredBytes, tables },
        message:
          `CloudWatch has no free-storage datapoint in the last 30 minutes for ` +
          `${src.rdsInstanceId ? `RDS instance ${src.rdsInstanceId}` : `Aurora cluster ${src.rdsClusterId}`}: ` +
          `is the id right? The pending migrations may need about ${formatBytes(requiredBytes, PREFLIGHT_BYTES)}.`,
      };
    }
    return diskVerdict(this.id, free, requiredBytes, tables, th);
  },
};
