/** A migration's SQL for one direction, with the directives read from its comments. */
export interface MigrationScript {
  /** File the script came from (a dbmate-style file holds both directions). */
  path: string;
  sql: string;
  /**
   * Run statement by statement, outside a transaction: a directive said so (`-- pgshift:no-transaction`,
   * morph's `-- morph:nontransactional`, dbmate's `-- migrate:up transaction:false`), or every statement must
   * run outside one (`CREATE INDEX CONCURRENTLY` alone in its file). Decided when the folder is loaded.
   */
  noTransaction: boolean;
  /** Why the script runs outside a transaction, for the plan ("directive -- pgshift:no-transaction"...). */
  noTransactionReason?: string;
  /** No statements at all (an empty or comment-only file): applied and recorded as a no-op. */
  empty: boolean;
  /** `-- pgshift:lock-timeout 5s` / `-- pgshift:statement-timeout 30min` (PostgreSQL interval text). */
  lockTimeout?: string;
  statementTimeout?: string;
  /** `-- pgshift:allow <rule-id> <reason>`: the rule is waived for the statement that follows the comment. */
  allows: MigrationAllow[];
  /** Line (1-based) in `path` where `sql` starts: dbmate's down section starts mid-file. */
  firstLine: number;
}

export interface MigrationAllow {
  rule: string;
  reason: string;
  /** 1-based line of the comment in the script's file. */
  line: number;
  /** Index of the statement the allow applies to (the next one after the comment); -1 when none follows. */
  statementIndex: number;
}

/** One migration version from the folder. */
export interface Migration {
  /** Digits as in the file name, without leading zeros ("0007" -> "7"), so it compares as a bigint. */
  version: string;
  /** Description part of the file name ("create_customers"). */
  name: string;
  /** File name of the up script, for messages ("0001_create_customers.up.sql"). */
  file: string;
  /** sha256 (hex) of the up script's text: what schema_migrations records and verify compares. */
  checksum: string;
  up: MigrationScript;
  down?: MigrationScript;
}

/** A statement located inside its script. */
export interface ParsedStatement {
  index: number;
  /** The statement's text without the trailing semicolon. */
  text: string;
  /** 1-based line and column in the file. */
  line: number;
  column: number;
  /** libpg-query's parse node, e.g. `{ IndexStmt: {...} }`. */
  node: Record<string, unknown>;
}

/** Progress callback: lets the CLI print "migration N of M". */
export type ProgressCallback = (progress: {
  index: number;
  total: number;
  version: string;
  name: string;
}) => void;

export type Severity = 'error' | 'warning';

/** One linter finding, from Squawk or from one of pgshift's own rules. */
export interface LintFinding {
  rule: string;
  source: 'squawk' | 'pgshift';
  severity: Severity;
  version: string;
  migration: string;
  file: string;
  /** 1-based line/column in the file. */
  line: number;
  column: number;
  message: string;
  help?: string;
  /** The statement, shortened. */
  statement?: string;
}
