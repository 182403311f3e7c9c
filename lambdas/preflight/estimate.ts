import type { MigrationAnalysis, TableTouch } from '../shared/analysis';
import { relationKey } from './relations';
import type { PreflightThresholds } from './thresholds';
import type { TouchedRelation } from './types';
import type { FormatBytesOptions } from '../shared/format';

/** What one statement's effect on one table costs: temporary disk, WAL, and time under its lock. */
export interface TouchCost {
  migration: string;
  statementIndex: number;
  table: string;
  kind: 'rewrite' | 'index-build' | 'full-scan';
  /** New data files written (rewritten table + indexes, or the new index). */
  diskBytes: number;
  walBytes: number;
  seconds: number;
}

/**
 * Costs of every rewrite, index build and locked full scan in the pending migrations, from live sizes.
 * A rewrite writes a new copy of the table and all its indexes before the old one is dropped at commit.
 */
export function estimateCosts(
  analyses: MigrationAnalysis[],
  relations: TouchedRelation[],
  th: PreflightThresholds,
): TouchCost[] {
  const sizes = new Map(relations.map((r) => [relationKey(r), r]));
  const costs: TouchCost[] = [];
  for (const a of analyses) {
    for (const t of a.touches) {
      const rel = sizes.get(relationKey(t));
      const tableBytes = rel?.tableBytes ?? t.sizeBytes ?? 0;
      const indexBytes = rel?.indexBytes ?? t.indexBytes ?? 0;
      const base = {
        migration: `${a.version}_${a.name}`,
        statementIndex: t.statementIndex,
        table: relationKey(t),
      };
      const kind = touchKind(t);
      if (kind === 'rewrite') {
        const bytes = tableBytes + indexBytes;
        costs.push({
          ...base,
          kind,
          diskBytes: bytes,
          walBytes: bytes * th.walBytesPerRewrittenByte,
          seconds: bytes / th.rewriteBytesPerSecond,
        });
      } else if (kind === 'index-build') {
        const bytes = tableBytes * th.indexSizeFactor;
        costs.push({
          ...base,
          kind,
          diskBytes: bytes,
          walBytes: bytes * th.walBytesPerRewrittenByte,
          seconds: tableBytes / th.rewriteBytesPerSecond,
        });
      } else if (kind === 'full-scan') {
        costs.push({ ...base, kind, diskBytes: 0, walBytes: 0, seconds: tableBytes / th.scanBytesPerSecond });
      }
    }
  }
  return costs;
}

function touchKind(t: TableTouch): TouchCost['kind'] | undefined {
  if (t.rewrite) return 'rewrite';
  if (t.indexBuild) return 'index-build';
  if (t.fullScan) return 'full-scan';
  return undefined;
}

/** Seconds as a person reads them (2m 05s). */
export function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)}s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m < 60 ? `${m}m ${String(s).padStart(2, '0')}s` : `${Math.floor(m / 60)}h ${m % 60}m`;
}

/** How pre-flight messages print bytes: whole bytes below 1 KiB, and negative amounts scaled like positive ones. */
export const PREFLIGHT_BYTES: FormatBytesOptions = { wholeBytes: true, scaleNegative: true };
