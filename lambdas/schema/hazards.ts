/**
 * The closed list of hazards a schema change can carry, after stripe/pg-schema-diff's plan model: each change
 * lists what it does that a reviewer must accept (none for a safe change). The report and the alert render
 * from this list; the three-level risk is derived from it (`riskOf`).
 */
export const HAZARD_KINDS = [
  'deletes-data',
  'rewrites-table',
  'access-exclusive-lock',
  'builds-index',
] as const;
export type HazardKind = (typeof HAZARD_KINDS)[number];

export interface Hazard {
  kind: HazardKind;
  /** What exactly, e.g. the lost enum labels or the large table's size. */
  detail: string;
}

/**
 * - `destructive`: data or code can be lost (a dropped table, column, enum label, function...; a type narrowed);
 * - `locking`: the change takes a lock that blocks a large table's writes or reads (ACCESS EXCLUSIVE for most
 *   ALTER TABLE forms, SHARE for a non-concurrent index build) or rewrites it;
 * - `safe`: neither.
 */
export type RiskClass = 'destructive' | 'locking' | 'safe';
export const RISK_CLASSES: readonly RiskClass[] = ['destructive', 'locking', 'safe'];

/** How bad each hazard is, as the risk class it puts a change in. */
export const HAZARD_SEVERITY: Record<HazardKind, RiskClass> = {
  'deletes-data': 'destructive',
  'rewrites-table': 'locking',
  'access-exclusive-lock': 'locking',
  'builds-index': 'locking',
};

/** How the report and the alert name each hazard. */
export const HAZARD_LABELS: Record<HazardKind, string> = {
  'deletes-data': 'deletes data',
  'rewrites-table': 'rewrites the table',
  'access-exclusive-lock': 'takes an ACCESS EXCLUSIVE lock on a large table',
  'builds-index': 'builds an index on a large table (SHARE lock unless CONCURRENTLY)',
};

/** The highest severity among a change's hazards; `safe` without any. */
export function riskOf(hazards: readonly Hazard[]): RiskClass {
  const severities = new Set(hazards.map((h) => HAZARD_SEVERITY[h.kind]));
  return RISK_CLASSES.find((r) => severities.has(r)) ?? 'safe';
}
