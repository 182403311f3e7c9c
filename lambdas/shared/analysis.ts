/**
 * What the migration analyser (lambdas/migrate/lint) learns of each pending migration from a real parse
 * (libpg-query) and the live catalog. Preflight (disk, blocking work, timeouts) and the report read this
 * plain data; they never parse SQL themselves.
 */

/** PostgreSQL's table lock modes, weakest first. */
export const LOCK_LEVELS = [
  'ACCESS SHARE',
  'ROW SHARE',
  'ROW EXCLUSIVE',
  'SHARE UPDATE EXCLUSIVE',
  'SHARE',
  'SHARE ROW EXCLUSIVE',
  'EXCLUSIVE',
  'ACCESS EXCLUSIVE',
] as const;
export type LockLevel = (typeof LOCK_LEVELS)[number];

/** One statement's effect on one table. */
export interface TableTouch {
  schema: string;
  table: string;
  /** The strongest lock the statement takes on the table. */
  lock: LockLevel;
  /** The statement rewrites the whole table (type change, volatile default, VACUUM FULL, CLUSTER...). */
  rewrite: boolean;
  /** The statement builds an index on the table (CONCURRENTLY or not). */
  indexBuild: boolean;
  /** The statement scans the whole table under its lock (SET NOT NULL, VALIDATE, ADD CHECK...). */
  fullScan: boolean;
  /** Index of the statement within the migration (0-based). */
  statementIndex: number;
  /** Measured from the catalog when a database was available; absent in offline lint. */
  sizeBytes?: number;
  indexBytes?: number;
  estimatedRows?: number;
}

/** Everything preflight needs to know about one pending migration. */
export interface MigrationAnalysis {
  version: string;
  name: string;
  /** Runs outside a transaction (`-- pgshift:no-transaction`). */
  noTransaction: boolean;
  /** Effective timeouts for this migration, as PostgreSQL interval text ("5s", "30min"). */
  lockTimeout: string;
  statementTimeout: string;
  touches: TableTouch[];
  /** Statements that need a minimum server version (e.g. ALTER TYPE ... ADD VALUE inside a transaction: 12). */
  requiresServerVersion?: { num: number; reason: string }[];
}
