import type { LockLevel, MigrationAnalysis } from '../../lambdas/shared/analysis';

/** One table a migration touches; what is not given is the plain case (ACCESS EXCLUSIVE, no rewrite). */
export interface TouchSpec {
  table: string;
  lock?: LockLevel;
  rewrite?: boolean;
  indexBuild?: boolean;
  fullScan?: boolean;
}

/** The plan's analysis of one migration touching `touches` (statement i touches table i), in schema public. */
export function migrationAnalysis(
  touches: TouchSpec[],
  extra: Partial<MigrationAnalysis> = {},
): MigrationAnalysis {
  return {
    version: '20240101000000',
    name: 'alter_items',
    noTransaction: false,
    lockTimeout: '5s',
    statementTimeout: '15min',
    touches: touches.map((t, i) => ({
      schema: 'public',
      table: t.table,
      lock: t.lock ?? 'ACCESS EXCLUSIVE',
      rewrite: t.rewrite ?? false,
      indexBuild: t.indexBuild ?? false,
      fullScan: t.fullScan ?? false,
      statementIndex: i,
    })),
    ...extra,
  };
}
