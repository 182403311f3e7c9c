import type { TableTouch } from '../../shared/analysis';
import { DEFAULT_LARGE_TABLE_BYTES } from '../../shared/large-table';
import type { Migration, ParsedStatement, Severity } from '../types';
import type { StatementTouch } from './analyze';

/** Size limits above which a blocking operation is an error rather than a warning. */
export interface SizeThresholds {
  /** @default 100 MiB (table + TOAST, without indexes) */
  largeTableBytes: number;
  /** @default 1,000,000 rows (planner estimate) */
  largeTableRows: number;
}

export const DEFAULT_THRESHOLDS: SizeThresholds = {
  largeTableBytes: DEFAULT_LARGE_TABLE_BYTES,
  largeTableRows: 1_000_000,
};

/** A touch with the catalog's measurements, when a database was available. */
export type MeasuredTouch = StatementTouch &
  Pick<TableTouch, 'sizeBytes' | 'indexBytes' | 'estimatedRows'> & {
    /** Exactly known: the table has at least one row. */
    hasRows?: boolean;
    /** Columns with a validated `CHECK (col IS NOT NULL)` (SET NOT NULL then needs no scan, PostgreSQL 12+). */
    notNullChecks?: string[];
  };

/** What a pgshift rule sees of one migration. */
export interface RuleContext {
  migration: Migration;
  statements: ParsedStatement[];
  /** Touches per statement index. */
  touches: MeasuredTouch[][];
  /** True when sizes come from a live database (data-aware rules stay quiet without it). */
  measured: boolean;
  thresholds: SizeThresholds;
}

export interface RuleHit {
  statementIndex: number;
  severity: Severity;
  message: string;
  help: string;
}

/** One of pgshift's own rules (documented in docs/lint-rules.md). */
export interface PgshiftRule {
  id: string;
  /** Needs the live catalog's sizes; offline lint skips it. */
  dataAware: boolean;
  check(ctx: RuleContext): RuleHit[];
}

/** How big a touched table is: drives severity ("large" → error, "small" with rows → warning). */
export function sizeClass(
  t: MeasuredTouch,
  th: SizeThresholds,
): 'unknown' | 'new' | 'empty' | 'small' | 'large' {
  if (t.createdHere) return 'new';
  if (t.sizeBytes === undefined) return 'unknown';
  if (!t.hasRows) return 'empty';
  if (t.sizeBytes >= th.largeTableBytes || (t.estimatedRows ?? 0) >= th.largeTableRows) return 'large';
  return 'small';
}

export function describeSize(t: MeasuredTouch): string {
  const mb = ((t.sizeBytes ?? 0) / (1024 * 1024)).toFixed(1);
  return `${t.schema}.${t.table}: ${mb} MiB, ~${t.estimatedRows ?? 0} rows`;
}

/** Severity by measured size, or undefined when the table is new, empty or unmeasured. */
export function severityBySize(t: MeasuredTouch, th: SizeThresholds): Severity | undefined {
  const c = sizeClass(t, th);
  return c === 'large' ? 'error' : c === 'small' ? 'warning' : undefined;
}
