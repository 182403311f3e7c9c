/**
 * The statements pgshift sends around a migration's own SQL (BEGIN, SET LOCAL lock_timeout/statement_timeout,
 * COMMIT; session SETs and RESETs for a no-transaction file). One source: the runner sends exactly these when it
 * applies or reverts, and the dry run prints exactly these (plan-sql.ts), so what a reviewer reads is what runs.
 */
import { ConfigurationError } from '../shared/errors';
import { statementsOf } from './files';
import type { Migration, MigrationScript, ParsedStatement } from './types';

const DURATION = /^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$/;

export interface TimeoutOptions {
  /** Defaults when a migration has no directive. @default "5s" / "13min" */
  lockTimeout?: string;
  statementTimeout?: string;
}

/** How a script is framed: its own transaction, inside the run's single transaction, or none. */
export type Framing = 'own-transaction' | 'outer-transaction';

/** What a no-transaction script's session settings are put back with once it has run (or failed). */
export const SESSION_RESETS = ['RESET lock_timeout', 'RESET statement_timeout'] as const;

function timeout(value: string, what: string): string {
  if (!DURATION.test(value))
    throw new ConfigurationError(`${what} "${value}" is not a duration such as 5s or 30min`);
  return value;
}

/** One step of a migration's script as pgshift runs it; `statement` marks the migration's own SQL. */
export interface ScriptStep {
  sql: string;
  statement?: ParsedStatement;
}

/** The exact statements pgshift sends for one script, framing included (BEGIN, SET LOCAL ..., COMMIT). */
export function scriptSteps(
  m: Migration,
  script: MigrationScript,
  options: TimeoutOptions,
  framing: Framing = 'own-transaction',
): { steps: ScriptStep[]; statements: ParsedStatement[]; lockTimeout: string; statementTimeout: string } {
  const lockTimeout = timeout(script.lockTimeout ?? options.lockTimeout ?? '5s', 'lock_timeout');
  const statementTimeout = timeout(
    script.statementTimeout ?? options.statementTimeout ?? '13min',
    'statement_timeout',
  );
  const statements = statementsOf(script, m.file);
  const body = statements.map((s) => ({ sql: s.text, statement: s }));
  if (script.noTransaction) {
    // Session-level settings: CREATE INDEX CONCURRENTLY cannot run inside a transaction block.
    return {
      statements,
      lockTimeout,
      statementTimeout,
      steps: [
        { sql: `SET lock_timeout = '${lockTimeout}'` },
        { sql: `SET statement_timeout = '${statementTimeout}'` },
        ...body,
      ],
    };
  }
  const settings = [
    { sql: `SET LOCAL lock_timeout = '${lockTimeout}'` },
    { sql: `SET LOCAL statement_timeout = '${statementTimeout}'` },
  ];
  return {
    statements,
    lockTimeout,
    statementTimeout,
    steps: framing === 'own-transaction' ? [{ sql: 'BEGIN' }, ...settings, ...body] : [...settings, ...body],
  };
}
