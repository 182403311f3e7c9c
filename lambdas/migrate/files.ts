import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MigrationFileError } from '../shared/errors';
import { compareVersions } from '../shared/history';
import {
  ensureParser,
  lineAt,
  outsideTransactionReason,
  parseStatements,
  scanComments,
  shorten,
} from './statements';
import { isRecord } from '../shared/is-record';
import type { Migration, MigrationAllow, MigrationScript, ParsedStatement } from './types';

/** golang-migrate's layout: `0001_create_customers.up.sql` / `0001_create_customers.down.sql`. */
const SPLIT_FILE = /^(\d+)_([A-Za-z0-9][\w.-]*?)\.(up|down)\.sql$/;
/** dbmate's layout: one `20240101120000_create_customers.sql` with `-- migrate:up` / `-- migrate:down`. */
const SINGLE_FILE = /^(\d+)_([A-Za-z0-9][\w.-]*)\.sql$/;
/** PostgreSQL interval text for the timeout directives: "5s", "250ms", "30min", "1h", "0". */
const DURATION = /^\d+(\.\d+)?\s*(us|ms|s|min|h|d)?$/;

const DIRECTIVE_PREFIX = 'pgshift:';

/** sha256 (hex) of a script's text, as recorded in schema_migrations. */
export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/** Digits without leading zeros, so "0007" and "7" are the same version (schema_migrations.version is bigint). */
export function normalizeVersion(digits: string): string {
  return BigInt(digits).toString();
}

interface Part {
  version: string;
  name: string;
  file: string;
  kind: 'up' | 'down' | 'single';
  text: string;
}

/** The error code of a failed file system call ('error' when it has none). */
function fsCode(err: unknown): string | undefined {
  return isRecord(err) && typeof err.code === 'string' ? err.code : undefined;
}

/** The files of the folder (not its sub-folders). */
async function folderFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    throw new MigrationFileError(`Cannot read migrations folder ${dir}: ${fsCode(err) ?? 'error'}`, {
      cause: err,
      details: { dir },
    });
  }
}

/** The .sql files named by one of the two layouts, with their text; every other problem goes to `problems`. */
async function readParts(dir: string, names: string[], problems: string[]): Promise<Part[]> {
  const parts: Part[] = [];
  for (const file of names.sort()) {
    if (!file.endsWith('.sql')) continue;
    const split = SPLIT_FILE.exec(file);
    const named = split ?? SINGLE_FILE.exec(file);
    const [, digits, name] = named ?? [];
    if (digits === undefined || name === undefined) {
      problems.push(
        `${file}: name does not follow NNNN_description.up.sql / .down.sql or NNNN_description.sql`,
      );
      continue;
    }
    let text: string;
    try {
      text = await readFile(join(dir, file), 'utf8');
    } catch (err) {
      problems.push(`${file}: unreadable (${fsCode(err) ?? String(err)})`);
      continue;
    }
    const kind = split ? (split[3] === 'down' ? 'down' : 'up') : 'single';
    parts.push({ version: normalizeVersion(digits), name, file, kind, text });
  }
  return parts;
}

/** One version's files as a Migration, or the problem that keeps them from being one. */
function migrationOf(dir: string, version: string, group: Part[]): Migration | string {
  const ups = group.filter((p) => p.kind !== 'down');
  const downs = group.filter((p) => p.kind === 'down');
  const [up] = ups;
  const [downPart] = downs;
  if (ups.length > 1)
    return `version ${version} is defined more than once: ${ups.map((p) => p.file).join(', ')}`;
  if (downs.length > 1)
    return `version ${version} has several down files: ${downs.map((p) => p.file).join(', ')}`;
  if (!up) return `${downPart?.file ?? version}: a down migration without its up migration`;
  if (downPart && downPart.name !== up.name) return `${downPart.file}: its name does not match ${up.file}`;
  try {
    const scripts =
      up.kind === 'single' ? dbmateScripts(up) : { up: script(join(dir, up.file), up.file, up.text) };
    const down = downPart ? script(join(dir, downPart.file), downPart.file, downPart.text) : scripts.down;
    return {
      version,
      name: up.name,
      file: up.file,
      checksum: checksumOf(scripts.up.sql),
      up: scripts.up,
      down,
    };
  } catch (err) {
    if (err instanceof MigrationFileError) return err.message;
    throw err;
  }
}

/**
 * Reads a migrations folder, parses every script (so a syntax error surfaces before any database is touched)
 * and returns the migrations in version order. Every problem of the folder is reported in one MigrationFileError.
 */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  await ensureParser();
  const names = await folderFiles(dir);
  const problems: string[] = [];
  const parts = await readParts(dir, names, problems);
  const byVersion = new Map<string, Part[]>();
  for (const p of parts) byVersion.set(p.version, [...(byVersion.get(p.version) ?? []), p]);
  const migrations: Migration[] = [];
  for (const [version, group] of byVersion) {
    const m = migrationOf(dir, version, group);
    if (typeof m === 'string') problems.push(m);
    else migrations.push(m);
  }
  if (problems.length > 0) {
    throw new MigrationFileError(`Migrations folder ${dir} is malformed: ${problems.join('; ')}`, {
      details: { dir, problems },
    });
  }
  return migrations.sort((a, b) => compareVersions(a.version, b.version));
}

/** Splits a dbmate file at its `-- migrate:up` / `-- migrate:down` comments (found by the SQL scanner). */
function dbmateScripts(part: Part): { up: MigrationScript; down?: MigrationScript } {
  const bytes = Buffer.from(part.text, 'utf8');
  const marks = scanComments(part.text).filter((c) => /^--\s*migrate:(up|down)\b/.test(c.text));
  const upMark = marks.find((c) => /^--\s*migrate:up\b/.test(c.text));
  const downMark = marks.find((c) => /^--\s*migrate:down\b/.test(c.text));
  if (!upMark) throw new MigrationFileError(`${part.file}: no "-- migrate:up" section`);
  if (downMark && downMark.start < upMark.start) {
    throw new MigrationFileError(`${part.file}: "-- migrate:down" comes before "-- migrate:up"`);
  }
  const section = (from: number, to: number, mark: string) => {
    const sql = bytes.subarray(from, to).toString('utf8');
    // dbmate's own option on the section marker means the same as pgshift's directive.
    const directive = /\btransaction:false\b/.test(mark)
      ? `dbmate ${mark.replace(/\s+/g, ' ').trim()}`
      : undefined;
    return script(part.file, part.file, sql, lineAt(bytes, from).line, directive);
  };
  return {
    up: section(upMark.start, downMark ? downMark.start : bytes.length, upMark.text),
    down: downMark ? section(downMark.start, bytes.length, downMark.text) : undefined,
  };
}

/** Other runners' comments that mean `-- pgshift:no-transaction` (people bring their histories along). */
const FOREIGN_NO_TRANSACTION = ['morph:nontransactional'];

/**
 * Parses one script: its statements (syntax check), its `-- pgshift:` directives, and whether it runs in a
 * transaction (see transactionMode). `directive` is a no-transaction directive found outside the script's text
 * (dbmate's section marker).
 */
function script(path: string, file: string, sql: string, firstLine = 1, directive?: string): MigrationScript {
  const statements = parseStatements(sql, file, firstLine);
  const result: MigrationScript = {
    path,
    sql,
    noTransaction: directive !== undefined,
    noTransactionReason: directive,
    empty: statements.length === 0,
    allows: [],
    firstLine,
  };
  const bytes = Buffer.from(sql, 'utf8');
  for (const comment of scanComments(sql)) {
    if (!comment.text.startsWith('--')) continue;
    const body = comment.text.slice(2).trim();
    if (FOREIGN_NO_TRANSACTION.includes(body)) {
      result.noTransaction = true;
      result.noTransactionReason ??= `directive -- ${body}`;
      continue;
    }
    if (!body.startsWith(DIRECTIVE_PREFIX)) continue;
    const line = lineAt(bytes, comment.start).line + firstLine - 1;
    const [directive, ...args] = body.slice(DIRECTIVE_PREFIX.length).split(/\s+/);
    const where = `${file}:${line}`;
    switch (directive) {
      case 'no-transaction':
        result.noTransaction = true;
        result.noTransactionReason = 'directive -- pgshift:no-transaction';
        break;
      case 'lock-timeout':
      case 'statement-timeout': {
        const value = args.join(' ');
        if (!DURATION.test(value)) {
          throw new MigrationFileError(
            `${where}: pgshift:${directive} needs a duration such as 5s or 30min, got "${value}"`,
          );
        }
        if (directive === 'lock-timeout') result.lockTimeout = value;
        else result.statementTimeout = value;
        break;
      }
      case 'allow': {
        const [rule, ...reason] = args;
        if (!rule || reason.length === 0) {
          throw new MigrationFileError(
            `${where}: pgshift:allow needs a rule id and a reason ("-- pgshift:allow ban-drop-column column unused since v2")`,
          );
        }
        result.allows.push({
          rule,
          reason: reason.join(' '),
          line,
          statementIndex: nextStatement(statements, line),
        });
        break;
      }
      default:
        throw new MigrationFileError(`${where}: unknown directive pgshift:${directive}`);
    }
  }
  if (!result.noTransaction) transactionMode(result, statements, file);
  return result;
}

/**
 * A script without a no-transaction directive: when every statement must run outside a transaction it does
 * (PostgreSQL would refuse it inside BEGIN with 25001); when only some must, no single way of running it is
 * right, so it is refused here, before any database is touched.
 */
function transactionMode(result: MigrationScript, statements: ParsedStatement[], file: string): void {
  const reasons = statements.map((s) => outsideTransactionReason(s.node));
  const [first] = statements.filter((_, i) => reasons[i] !== undefined);
  if (!first) return;
  const other = statements.find((_, i) => reasons[i] === undefined);
  if (!other) {
    result.noTransaction = true;
    result.noTransactionReason = `every statement must run outside a transaction (${[...new Set(reasons)].join(', ')})`;
    return;
  }
  throw new MigrationFileError(
    `${file}:${first.line}: ${shorten(first.text, 120)} cannot run inside a transaction (${reasons[first.index]}), ` +
      `but the file also has statements that pgshift would run in one (line ${other.line}: ${shorten(other.text, 80)}). ` +
      'Move it to a migration file of its own (a file whose statements all must run outside a transaction runs ' +
      'without one), or add "-- pgshift:no-transaction" to run the whole file statement by statement ' +
      '(make each statement re-runnable: IF NOT EXISTS / IF EXISTS).',
    {
      details: {
        file,
        line: first.line,
        statement: shorten(first.text, 500),
        reason: reasons[first.index],
        otherLine: other.line,
      },
    },
  );
}

function nextStatement(statements: ParsedStatement[], line: number): number {
  return statements.find((s) => s.line > line)?.index ?? -1;
}

/** The statements of a script (parsed again: scripts are small and this keeps Migration plain data). */
export function statementsOf(s: MigrationScript, file: string): ParsedStatement[] {
  return parseStatements(s.sql, file, s.firstLine);
}

export type { MigrationAllow };
