import type { AppliedMigration, HistoryRow } from '../shared/history';
import type { DriftResult, SchemaDiff } from '../schema';
import type { RunSummary } from './run';

export interface TableReport {
  schema: string;
  name: string;
  /** Qualified as PostgreSQL quotes it. */
  qualifiedName: string;
  kind: 'table' | 'partitioned table' | 'materialized view';
  totalBytes: number;
  tableBytes: number;
  indexBytes: number;
  toastBytes: number;
  /** Sizes from relpages because another session holds ACCESS EXCLUSIVE on the table (see lockFreeTableSizesSql). */
  sizeEstimated: boolean;
  /** `reltuples`; null when the table was never analyzed. */
  estimatedRows: number | null;
  /**
   * `count(*)`, only for tables under `exactCountMaxBytes` that can be read: null for an unpopulated
   * materialized view, a table the report's role may not SELECT, or one locked by someone else.
   */
  exactRows: number | null;
  liveTuples: number;
  deadTuples: number;
  lastVacuum: string | null;
  lastAutovacuum: string | null;
  lastAnalyze: string | null;
  lastAutoanalyze: string | null;
}

export interface DatabaseReport {
  formatVersion: 1;
  generatedAt: string;
  database: string;
  server: {
    version: string;
    versionNum: number;
    databaseSizeBytes: number;
    maxConnections: number;
    reservedConnections: number;
    connections: { total: number; byState: Record<string, number> };
  };
  /** Largest first; at most `maxTables` (the total says how many there are). */
  tables: TableReport[];
  tableCount: number;
  migrations: {
    /** False when pgshift never ran here (its tables do not exist). */
    tracked: boolean;
    applied: AppliedMigration[];
    history: HistoryRow[];
    /** Alembic's `alembic_version` (databases arriving from Flask-Migrate), when present. */
    alembic: { table: string; versions: string[] } | null;
  };
  backups: { key: string; finishedAt: string; sizeBytes: number; compression: string; reason?: string }[];
  locks: {
    pid: number;
    relation: string | null;
    lockType: string;
    mode: string;
    granted: boolean;
    state: string | null;
    waitingSeconds: number | null;
  }[];
  longRunningQueries: {
    pid: number;
    user: string | null;
    application: string | null;
    state: string | null;
    durationSeconds: number;
    query: string;
  }[];
  thresholds: { longQuerySeconds: number; exactCountMaxBytes: number };
  run: RunSummary;
  diff: SchemaDiff | null;
  drift: Pick<DriftResult, 'ok' | 'checked' | 'counts' | 'summary'> | null;
}
