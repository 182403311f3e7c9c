/**
 * PostgreSQL's error turned into pgshift's: where in the file (line and column from the error's position),
 * which statement, SQLSTATE, and what state the failure left (rolled back, or partly applied).
 */
import {
  LockTimeoutError,
  MigrationFailedError,
  PartialMigrationError,
  type PgshiftError,
} from '../../shared/errors';
import { shorten } from '../statements';
import type { Migration, ParsedStatement } from '../types';
import { invalidIndexAdvice, type InvalidIndex } from './invalid-index';

/** The fields of pg's DatabaseError that messages use (all optional: the error may not come from the server). */
interface DbError {
  code?: string;
  message?: string;
  position?: string;
  detail?: string;
  hint?: string;
}

function stringField(err: unknown, key: keyof DbError): string | undefined {
  if (typeof err !== 'object' || err === null || !(key in err)) return undefined;
  const value: unknown = Reflect.get(err, key);
  return typeof value === 'string' ? value : undefined;
}

function dbError(err: unknown): DbError {
  return {
    code: stringField(err, 'code'),
    message: stringField(err, 'message'),
    position: stringField(err, 'position'),
    detail: stringField(err, 'detail'),
    hint: stringField(err, 'hint'),
  };
}

/** Line/column in the file of a 1-based character position inside a statement. */
function positionInFile(
  stmt: ParsedStatement,
  position: number | undefined,
): { line: number; column: number } {
  if (!position) return { line: stmt.line, column: stmt.column };
  const before = stmt.text.slice(0, position - 1).split('\n');
  const last = before.at(-1) ?? '';
  return before.length === 1
    ? { line: stmt.line, column: stmt.column + last.length }
    : { line: stmt.line + before.length - 1, column: last.length + 1 };
}

/** What the failed script's run left, as `migrationError` words it. */
export interface FailureState {
  lockTimeout: string;
  /**
   * The script ran outside a transaction (-- pgshift:no-transaction, or every statement must): no ROLLBACK
   * undid anything, so the statements before the failing one stayed, and the failing one may have left
   * something (an INVALID index). False: the script's transaction was rolled back.
   */
  partial: boolean;
  invalidIndexes?: InvalidIndex[];
  /** The script's statements: those before `stmt` already ran when `partial`. */
  statements?: ParsedStatement[];
}

/** Turns PostgreSQL's error into pgshift's: file, statement, message, position and SQLSTATE. */
export function migrationError(
  m: Migration,
  file: string,
  stmt: ParsedStatement | undefined,
  err: unknown,
  state: FailureState,
): PgshiftError {
  const e = dbError(err);
  const position = e.position ? Number(e.position) : undefined;
  const at = stmt ? positionInFile(stmt, position) : undefined;
  const where = at ? `${file}:${at.line}:${at.column}` : file;
  const invalid = state.invalidIndexes ?? [];
  const details = {
    version: m.version,
    file,
    statement: stmt ? shorten(stmt.text, 500) : undefined,
    statementIndex: stmt?.index,
    line: at?.line,
    column: at?.column,
    sqlState: e.code,
    position,
    pgMessage: e.message,
    ...(e.detail ? { pgDetail: e.detail } : {}),
    ...(e.hint ? { pgHint: e.hint } : {}),
    ...(invalid.length > 0 ? { invalidIndexes: invalid } : {}),
  };
  const outcome = state.partial
    ? `It ran outside a transaction (-- pgshift:no-transaction): nothing was rolled back, earlier statements stayed applied.${invalidIndexAdvice(invalid)} Re-run the migration once fixed.`
    : 'The migration was rolled back: schema and history are unchanged.';
  const ran = state.partial && stmt ? (state.statements ?? []).filter((s) => s.index < stmt.index) : [];
  if (e.code === '55P03' && ran.length > 0) {
    // A retry would re-run the statements that already ran (no transaction undid them): never retried.
    return new PartialMigrationError(
      `${where}: waited longer than lock_timeout (${state.lockTimeout}) for a lock in ${m.file}: ${e.message ?? ''}. ` +
        `It ran outside a transaction (-- pgshift:no-transaction) and ${ran.length} earlier statement(s) stayed applied: ` +
        `${ran.map((r) => shorten(r.text, 120)).join('; ')}.${invalidIndexAdvice(invalid)} ` +
        'The migration is recorded as failed and was not retried. Do not re-run it as is: make its statements idempotent ' +
        '(IF NOT EXISTS / IF EXISTS) or move the ones that ran into an applied migration, then run again when the lock holder is gone.',
      { cause: err, details: { ...details, ran: ran.map((r) => shorten(r.text, 500)) } },
    );
  }
  if (e.code === '55P03') {
    return new LockTimeoutError(
      `${where}: waited longer than lock_timeout (${state.lockTimeout}) for a lock in ${m.file}: ${e.message ?? ''}. ${outcome} Retrying later is safe.`,
      { cause: err, details },
    );
  }
  return new MigrationFailedError(
    `${where}: ${e.message ?? String(err)} (SQLSTATE ${e.code ?? 'unknown'}) in statement: ${stmt ? shorten(stmt.text, 160) : '(bookkeeping)'}. ${outcome}`,
    { cause: err, details },
  );
}
