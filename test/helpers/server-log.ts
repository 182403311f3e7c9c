/**
 * What the rig's PostgreSQL server received, read from its log: with `log_statement = 'all'` set on a test
 * database, every simple-protocol query is logged as `LOG:  statement: <text>` (continuation lines prefixed with a
 * tab). Tests compare this with what pgshift printed: evidence from the server, not from pgshift's own strings.
 */
import { open, stat } from 'node:fs/promises';
import { quoteIdent, withClient } from '../../lambdas/shared/db';
import { rigInfo, rigTarget } from '../rig/helpers';

/** One statement a backend received, in the order the server logged it. */
export interface LoggedStatement {
  pid: number;
  sql: string;
}

/** The default log_line_prefix '%m [%p] ' then the message's level. */
const ENTRY = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[(\d+)\] ([A-Z]+): {2}(.*)$/;

/** Logs every statement of the database's future sessions (a superuser setting; the rig connects as one). */
export async function logStatementsOf(database: string): Promise<void> {
  await withClient(rigTarget(), (c) =>
    c.query(`ALTER DATABASE ${quoteIdent(database)} SET log_statement = 'all'`),
  );
}

/** Where the server log ends now: read from here to see only what comes after. */
export async function serverLogOffset(): Promise<number> {
  return (await stat(rigInfo().pg.serverLog)).size;
}

/** The `statement:` entries logged since `offset`, multi-line statements joined back as sent. */
export async function statementsSince(offset: number): Promise<LoggedStatement[]> {
  const file = await open(rigInfo().pg.serverLog, 'r');
  let text: string;
  try {
    const size = (await file.stat()).size;
    const buffer = Buffer.alloc(size - offset);
    await file.read(buffer, 0, buffer.length, offset);
    text = buffer.toString('utf8');
  } finally {
    await file.close();
  }
  const out: LoggedStatement[] = [];
  let current: LoggedStatement | undefined;
  for (const line of text.split('\n')) {
    const m = ENTRY.exec(line);
    if (m) {
      const message = m[3] ?? '';
      current =
        m[2] === 'LOG' && message.startsWith('statement: ')
          ? { pid: Number(m[1]), sql: message.slice(11) }
          : undefined;
      if (current) out.push(current);
    } else if (current && line.startsWith('\t')) {
      // The server writes a message's later lines after a tab.
      current.sql += `\n${line.slice(1)}`;
    } else {
      current = undefined;
    }
  }
  return out;
}

/** A printed line that is not SQL: blank, or a comment line. */
function skipNonSql(printed: string, pos: number): number {
  let p = pos;
  for (;;) {
    while (p < printed.length && printed[p] === '\n') p += 1;
    if (!printed.startsWith('--', p)) return p;
    const end = printed.indexOf('\n', p);
    p = end < 0 ? printed.length : end + 1;
  }
}

/**
 * Walks the printed SQL against one session's logged statements: from a statement of the session that the
 * printed SQL starts with, every following logged statement must be the next printed statement (`<sql>;`),
 * byte for byte, until the printed SQL holds nothing but comments. Returns the statements matched, or throws
 * naming the first difference.
 */
export function matchPrintedSql(printed: string, session: LoggedStatement[]): string[] {
  const start = skipNonSql(printed, 0);
  const candidates = session.flatMap((s, i) => (printed.startsWith(`${s.sql};`, start) ? [i] : []));
  if (candidates.length === 0) {
    throw new Error(
      `the server never received the first printed statement: ${printed.slice(start, start + 200)}`,
    );
  }
  // The first printed statement (BEGIN) may also be sent earlier for other work: try each place it was received.
  const problems: string[] = [];
  for (const first of candidates) {
    try {
      return matchFrom(printed, session, start, first);
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  throw new Error(problems.join('; '));
}

function matchFrom(printed: string, session: LoggedStatement[], start: number, first: number): string[] {
  const matched: string[] = [];
  let pos = start;
  for (const s of session.slice(first)) {
    pos = skipNonSql(printed, pos);
    if (pos >= printed.length) break;
    if (!printed.startsWith(`${s.sql};`, pos)) {
      throw new Error(
        `after ${matched.length} matching statement(s) the server received ${JSON.stringify(s.sql.slice(0, 300))} ` +
          `where the dry run printed ${JSON.stringify(printed.slice(pos, pos + 300))}`,
      );
    }
    matched.push(s.sql);
    pos += s.sql.length + 1;
  }
  pos = skipNonSql(printed, pos);
  if (pos < printed.length) {
    throw new Error(`printed but never received: ${JSON.stringify(printed.slice(pos, pos + 300))}`);
  }
  return matched;
}

/**
 * The statement_timeout cap pgshift sends on Lambda before a statement when the function has less time left than
 * the configured timeout (lambdas/migrate/runner/run-script.ts capStatementTimeout): an unquoted number of ms, where the
 * framing's own SETs are quoted ('13min'). The one statement a dry run cannot print in advance.
 */
const BUDGET_CAP = /^SET (LOCAL )?statement_timeout = \d+$/;

/**
 * The one backend session whose statements match the printed SQL (see matchPrintedSql), and its matches. The
 * Lambda time budget's caps are taken out of the session first and returned in `caps`, each with the statement
 * it came before, so a test can say where they may be.
 */
export function sessionMatching(
  printed: string,
  logged: LoggedStatement[],
): { pid: number; matched: string[]; caps: { sql: string; before: string }[] } {
  const problems: string[] = [];
  for (const pid of [...new Set(logged.map((s) => s.pid))]) {
    const session = logged.filter((s) => s.pid === pid);
    const caps = session.flatMap((s, i) =>
      BUDGET_CAP.test(s.sql) ? [{ sql: s.sql, before: session[i + 1]?.sql ?? '' }] : [],
    );
    try {
      return {
        pid,
        matched: matchPrintedSql(
          printed,
          session.filter((s) => !BUDGET_CAP.test(s.sql)),
        ),
        caps,
      };
    } catch (err) {
      problems.push(`pid ${pid}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no session received the printed SQL:\n${problems.join('\n')}`);
}
