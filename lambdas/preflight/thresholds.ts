import { ConfigurationError } from '../shared/errors';

/**
 * Every number a pre-flight check judges against, with its default. docs/preflight.md explains each one; the
 * rates are conservative defaults for gp3-class storage, not measured by pgshift: set them from your own timings.
 */
export interface PreflightThresholds {
  /** disk-space: required bytes are multiplied by this (a rewrite briefly holds old + new copy, plus WAL). */
  diskSafetyFactor: number;
  /** disk-space: WAL generated per byte rewritten or indexed (full-page images make it about 1). */
  walBytesPerRewrittenByte: number;
  /** disk-space: a new index is estimated at this fraction of its table's heap size. */
  indexSizeFactor: number;
  /** disk-space: warn when the requirement exceeds this fraction of free space (fail when above 1). */
  diskWarnRatio: number;

  /** blocking-transactions: a transaction open longer than this blocks (seconds). */
  longTransactionSeconds: number;
  /** blocking-transactions: an `idle in transaction` session idle longer than this blocks (seconds). */
  idleInTransactionSeconds: number;
  /** blocking-transactions: an active session holding a conflicting lock on a touched table for longer blocks. */
  lockHolderSeconds: number;
  /** blocking-transactions: what a blocking session means. @default 'fail' */
  blockingStatus: 'fail' | 'warn';

  /** connections: connections pgshift itself needs (migrate + pg_dump + preflight). */
  connectionsNeeded: number;
  /** connections: warn when used / usable connections is at or above this ratio. */
  connectionsWarnRatio: number;

  /** replication: warn when a replica's replay lag exceeds this (seconds). */
  replicationLagSeconds: number;
  /** replication: warn when a replication slot retains more WAL than this (bytes). */
  slotRetainedWalBytes: number;

  /** timeouts: bytes per second a table rewrite or index build proceeds at (size / rate = estimated time). */
  rewriteBytesPerSecond: number;
  /** timeouts: bytes per second a full-table scan under lock (SET NOT NULL, VALIDATE) proceeds at. */
  scanBytesPerSecond: number;
  /** timeouts: warn when an estimate exceeds this fraction of a timeout or of the time budget. */
  timeoutWarnRatio: number;
}

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const DEFAULT_THRESHOLDS: PreflightThresholds = {
  diskSafetyFactor: 1.5,
  walBytesPerRewrittenByte: 1,
  indexSizeFactor: 0.5,
  diskWarnRatio: 0.5,
  longTransactionSeconds: 300,
  idleInTransactionSeconds: 60,
  lockHolderSeconds: 5,
  blockingStatus: 'fail',
  connectionsNeeded: 3,
  connectionsWarnRatio: 0.8,
  replicationLagSeconds: 60,
  slotRetainedWalBytes: 10 * GiB,
  rewriteBytesPerSecond: 20 * MiB,
  scanBytesPerSecond: 100 * MiB,
  timeoutWarnRatio: 0.5,
};

/** Defaults with the given overrides; overrides with an undefined value keep the default. */
export function resolveThresholds(overrides: Partial<PreflightThresholds> = {}): PreflightThresholds {
  const defined = Object.entries(overrides).filter(([, v]) => v !== undefined);
  return { ...DEFAULT_THRESHOLDS, ...Object.fromEntries(defined) };
}

/** `diskSafetyFactor` → `PGSHIFT_PREFLIGHT_DISK_SAFETY_FACTOR`: every threshold has one env var of that shape. */
export function thresholdEnvName(key: keyof PreflightThresholds): string {
  return `PGSHIFT_PREFLIGHT_${key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()}`;
}

const ENV_PREFIX = 'PGSHIFT_PREFLIGHT_';

/** Thresholds that are rates or factors: zero would divide by zero or make every check vacuous. */
const POSITIVE = new Set<keyof PreflightThresholds>([
  'diskSafetyFactor',
  'rewriteBytesPerSecond',
  'scanBytesPerSecond',
  'connectionsNeeded',
]);

/**
 * Threshold overrides from the environment (the handler reads them once, at module scope). Lists every bad
 * value, and every unknown `PGSHIFT_PREFLIGHT_*` variable (a typo would otherwise silently keep the default),
 * in one ConfigurationError.
 */
export function thresholdsFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<PreflightThresholds> {
  const out: Partial<PreflightThresholds> = {};
  const problems: string[] = [];
  const known = new Map(
    Object.keys(DEFAULT_THRESHOLDS)
      .filter((k): k is keyof PreflightThresholds => k in DEFAULT_THRESHOLDS)
      .map((k) => [thresholdEnvName(k), k]),
  );
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || raw === '') continue;
    const key = known.get(name);
    if (!key) {
      problems.push(`${name} is not a pre-flight threshold (known: ${[...known.keys()].join(', ')})`);
      continue;
    }
    if (key === 'blockingStatus') {
      if (raw === 'fail' || raw === 'warn') out.blockingStatus = raw;
      else problems.push(`${name} must be "fail" or "warn", not "${raw}"`);
      continue;
    }
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
      problems.push(`${name} must be a non-negative number, not "${raw}"`);
      continue;
    }
    if (value === 0 && POSITIVE.has(key)) {
      problems.push(`${name} must be greater than 0 (it divides or scales an estimate)`);
      continue;
    }
    out[key] = value;
  }
  if (problems.length > 0) {
    throw new ConfigurationError(`Pre-flight thresholds unusable: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return out;
}
