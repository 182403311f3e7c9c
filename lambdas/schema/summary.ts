import type { DiffCounts, SchemaChange, SchemaDiff } from './diff';
import { HAZARD_KINDS, HAZARD_LABELS, type Hazard, type HazardKind } from './hazards';

/** What the diff step outputs about a diff: its counts by risk, and how many changes carry each hazard. */
export interface DiffStepSummary {
  counts: DiffCounts;
  destructive: boolean;
  /** Changes per hazard kind; kinds no change carries are absent. */
  hazards: Partial<Record<HazardKind, number>>;
}

export function diffStepSummary(diff: SchemaDiff): DiffStepSummary {
  const hazards: Partial<Record<HazardKind, number>> = {};
  for (const kind of HAZARD_KINDS) {
    const n = diff.changes.filter((c) => c.hazards.some((h) => h.kind === kind)).length;
    if (n > 0) hazards[kind] = n;
  }
  return { counts: diff.counts, destructive: diff.destructive, hazards };
}

/** One hazard as a reader sees it: `deletes data (enum labels removed: ok)`. */
export function describeHazard(h: Hazard): string {
  return `${HAZARD_LABELS[h.kind]} (${h.detail})`;
}

/** A change's hazards in one phrase, or `no hazard` (also for a diff stored before hazards existed). */
export function describeHazards(c: SchemaChange): string {
  const hazards = c.hazards ?? [];
  return hazards.length === 0 ? 'no hazard' : hazards.map(describeHazard).join('; ');
}

/** The parts of a diff step's output the alert reads, as they come back from the state machine. */
export interface DiffAlertInput {
  counts?: Record<string, number>;
  destructive?: boolean;
  hazards?: Partial<Record<string, number>>;
}

/** The alert's lines about a diff step's output: the counts as a fact, each hazard present as a warning. */
export function diffAlertLines(summary: DiffAlertInput): { facts: string[]; warnings: string[] } {
  const facts: string[] = [];
  const warnings: string[] = [];
  if (summary.counts) {
    facts.push(
      `Schema changes: ${Object.entries(summary.counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')}`,
    );
  }
  if (summary.destructive) warnings.push('The schema diff contains destructive changes');
  for (const kind of HAZARD_KINDS) {
    const n = summary.hazards?.[kind];
    if (n) warnings.push(`Schema diff hazard: ${n} change${n === 1 ? '' : 's'} ${HAZARD_LABELS[kind]}`);
  }
  return { facts, warnings };
}
