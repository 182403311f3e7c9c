import { loadModule, parseSync, scanSync } from 'libpg-query';
import { MigrationFileError, errorMessage } from '../shared/errors';
import { isRecord } from '../shared/is-record';
import { record, records, text, unwrap } from './parse-tree';
import type { ParsedStatement } from './types';

let loaded: Promise<void> | undefined;

/** Loads libpg-query's WASM module once; every parse below needs it. */
export function ensureParser(): Promise<void> {
  loaded ??= loadModule();
  return loaded;
}

/** A comment token of a script, as PostgreSQL's own scanner sees it (so `--` inside strings is not one). */
export interface SqlComment {
  text: string;
  /** Byte offsets in the UTF-8 text. */
  start: number;
  end: number;
}

/** Every comment of `sql`, found with PostgreSQL's scanner. */
export function scanComments(sql: string): SqlComment[] {
  if (sql.trim() === '') return []; // the scanner refuses empty input
  const tokens = scanSync(sql).tokens;
  return tokens
    .filter((t) => t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT')
    .map((t) => ({ text: t.text, start: t.start, end: t.end }));
}

/** 1-based line and column of a byte offset. */
export function lineAt(bytes: Buffer, offset: number): { line: number; column: number } {
  const before = bytes.subarray(0, offset).toString('utf8');
  const lines = before.split('\n');
  return { line: lines.length, column: (lines.at(-1) ?? '').length + 1 };
}

/**
 * Splits a script into statements with PostgreSQL's parser. `firstLine` shifts reported lines when the script
 * starts mid-file (dbmate's down section). A syntax error is a MigrationFileError naming file, line and column.
 */
export function parseStatements(sql: string, file: string, firstLine = 1): ParsedStatement[] {
  const bytes = Buffer.from(sql, 'utf8');
  // An empty or comment-only script has no statements (golang-migrate accepts such files); the parser would
  // call it "Query cannot be empty".
  if (sql.trim() === '' || leadingTrivia(sql) === sql.length) return [];
  let result: ReturnType<typeof parseSync>;
  try {
    result = parseSync(sql);
  } catch (err) {
    // libpg-query's SqlError carries where the parser stopped; cursorPosition is a 0-based character offset.
    const details = record(isRecord(err) ? err.sqlDetails : undefined);
    const position = typeof details.cursorPosition === 'number' ? details.cursorPosition : 0;
    const at = lineAt(bytes, Buffer.byteLength(sql.slice(0, position), 'utf8'));
    const line = at.line + firstLine - 1;
    throw new MigrationFileError(
      `${file}:${line}:${at.column}: SQL syntax error: ${text(details.message) ?? errorMessage(err)}`,
      { cause: err, details: { file, line, column: at.column } },
    );
  }
  const out: ParsedStatement[] = [];
  for (const raw of result.stmts ?? []) {
    const start = raw.stmt_location ?? 0;
    const end = raw.stmt_len ? start + raw.stmt_len : bytes.length;
    const slice = bytes.subarray(start, end).toString('utf8');
    // stmt_location points just past the previous ';', so leading whitespace and comments belong to the slice.
    const lead = leadingTrivia(slice);
    const text = slice.slice(lead).trim();
    if (text === '') continue;
    const at = lineAt(bytes, start + Buffer.byteLength(slice.slice(0, lead), 'utf8'));
    out.push({
      index: out.length,
      text,
      line: at.line + firstLine - 1,
      column: at.column,
      node: record(raw.stmt),
    });
  }
  return out;
}

/** Length (in characters) of the whitespace and comments that start a statement's slice. */
function leadingTrivia(slice: string): number {
  const tokens = scanSync(slice).tokens;
  const first = tokens.find((t) => t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT');
  if (!first) return slice.length;
  return Buffer.from(slice, 'utf8').subarray(0, first.start).toString('utf8').length;
}

/** The node's single key ("IndexStmt") and body. */
export function nodeKind(node: Record<string, unknown>): { kind: string; body: Record<string, unknown> } {
  const kind = Object.keys(node)[0] ?? '';
  return { kind, body: record(node[kind]) };
}

/**
 * Whether a statement can run again after a partial failure without erroring or doing it twice, for the kinds
 * that have an IF [NOT] EXISTS form (and SET): true/false; undefined for the other kinds, which callers judge
 * (the lint rule lets them pass, the runner's re-run of an interrupted migration does not).
 */
export function idempotentForm(node: Record<string, unknown>): boolean | undefined {
  const { kind, body } = nodeKind(node);
  switch (kind) {
    case 'IndexStmt':
    case 'CreateStmt':
      return body.if_not_exists === true;
    case 'DropStmt':
      return body.missing_ok === true;
    case 'AlterEnumStmt':
      return body.skipIfNewValExists === true || body.oldVal !== undefined;
    case 'AlterTableStmt':
      return records(body.cmds).every((w) => {
        const cmd = unwrap(w, 'AlterTableCmd') ?? {};
        if (cmd.subtype === 'AT_AddColumn') return cmd.missing_ok === true;
        if (cmd.subtype === 'AT_DropColumn' || cmd.subtype === 'AT_DropConstraint')
          return cmd.missing_ok === true;
        return cmd.subtype !== 'AT_AddConstraint';
      });
    case 'VariableSetStmt':
      return true;
    default:
      return undefined;
  }
}

/** Shortens a statement for messages and outputs. */
export function shorten(text: string, max = 200): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function hasOption(body: Record<string, unknown>, field: string, name: string): boolean {
  return records(body[field]).some((o) => unwrap(o, 'DefElem')?.defname === name);
}

/**
 * What makes a statement impossible inside a transaction block (PostgreSQL raises 25001 for these), or
 * undefined when it can run in one. From PostgreSQL's documentation of each command.
 */
export function outsideTransactionReason(node: Record<string, unknown>): string | undefined {
  const { kind, body } = nodeKind(node);
  switch (kind) {
    case 'IndexStmt':
      return body.concurrent === true ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return body.concurrent === true ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt': {
      if (hasOption(body, 'params', 'concurrently')) return 'REINDEX CONCURRENTLY';
      const k = text(body.kind) ?? '';
      if (k === 'REINDEX_OBJECT_SCHEMA') return 'REINDEX SCHEMA';
      if (k === 'REINDEX_OBJECT_DATABASE') return 'REINDEX DATABASE';
      if (k === 'REINDEX_OBJECT_SYSTEM') return 'REINDEX SYSTEM';
      return undefined;
    }
    case 'VacuumStmt':
      // ANALYZE alone is a VacuumStmt too, and may run in a transaction.
      return body.is_vacuumcmd === true ? 'VACUUM' : undefined;
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt':
      return 'DROP TABLESPACE';
    case 'CreateSubscriptionStmt':
      return 'CREATE SUBSCRIPTION';
    case 'DropSubscriptionStmt':
      return 'DROP SUBSCRIPTION';
    case 'AlterTableStmt': {
      const detach = records(body.cmds).some((w) => {
        const cmd = unwrap(w, 'AlterTableCmd');
        return cmd?.subtype === 'AT_DetachPartition' && unwrap(cmd.def, 'PartitionCmd')?.concurrent === true;
      });
      return detach ? 'DETACH PARTITION CONCURRENTLY' : undefined;
    }
    default:
      return undefined;
  }
}
