/**
 * The SQL of a dry run (plan.sql, downgrade.sql, the CLI's output, `pgshift plan`'s Markdown) as structured
 * data and its one rendering. Each script's lines are the framing's steps (framing.ts, the ones the runner
 * sends) plus comments for pgshift's own bookkeeping, so the printed SQL is, statement for statement, what the
 * server receives. Annotations (lint findings, locks) are extra comment lines: they never alter a statement.
 */
import { MIGRATIONS_TABLE } from '../shared/history';
import { scriptSteps, SESSION_RESETS, type Framing, type TimeoutOptions } from './framing';
import type { Migration, MigrationScript } from './types';

/** A line of a planned script: a statement sent as is (printed with `;`), or a comment. */
export type PlanLine =
  | { comment: string }
  | {
      sql: string;
      /** Index of the migration's own statement (absent for pgshift's framing). */
      statementIndex?: number;
      /** 1-based line of that statement in its file. */
      line?: number;
    };

/** One migration's script as the dry run shows it. */
export interface PlannedScript {
  direction: 'up' | 'down';
  version: string;
  name: string;
  /** The file the script is in (the .down.sql for a revert, the file for a dbmate-style one). */
  file: string;
  checksum: string;
  noTransaction: boolean;
  empty: boolean;
  lines: PlanLine[];
}

/** Which document: a migrate dry run (pending migrations) or a downgrade (migrations to revert). */
export type PlanKind = 'dry-run' | 'downgrade';

/** The planned lines of one script, from the same steps the runner sends. */
export function planScript(
  m: Migration,
  script: MigrationScript,
  direction: 'up' | 'down',
  options: TimeoutOptions,
  framing: Framing = 'own-transaction',
): PlannedScript {
  const { steps } = scriptSteps(m, script, options, framing);
  const file = direction === 'up' ? m.file : (script.path.split('/').pop() ?? m.file);
  const header =
    `${direction === 'up' ? 'apply' : 'revert'} ${m.version} ${m.name} (${file}, sha256 ${m.checksum.slice(0, 16)}…)` +
    (script.noTransaction
      ? ` [no-transaction: ${script.noTransactionReason ?? 'statement by statement'}]`
      : '') +
    (script.empty ? ' [empty: no statements]' : '');
  const record =
    direction === 'up'
      ? `pgshift records version ${m.version} in ${MIGRATIONS_TABLE} and pgshift.history` +
        (script.noTransaction ? ' (in its own transaction)' : ' (same transaction)')
      : `pgshift deletes version ${m.version} from ${MIGRATIONS_TABLE} and records the revert in pgshift.history`;
  const lines: PlanLine[] = [
    { comment: header },
    ...steps.map((s) =>
      s.statement
        ? { sql: s.sql, statementIndex: s.statement.index, line: s.statement.line }
        : { sql: s.sql },
    ),
  ];
  // The bookkeeping runs in a transaction of its own after a no-transaction script (runner/run-script.ts).
  if (script.noTransaction) lines.push({ sql: 'BEGIN' }, { comment: record }, { sql: 'COMMIT' });
  else lines.push({ comment: record });
  if (script.noTransaction) lines.push(...SESSION_RESETS.map((sql) => ({ sql })));
  else if (framing === 'own-transaction') lines.push({ sql: 'COMMIT' });
  return {
    direction,
    version: m.version,
    name: m.name,
    file,
    checksum: m.checksum,
    noTransaction: script.noTransaction,
    empty: script.empty,
    lines,
  };
}

export interface RenderPlanOptions {
  /** All scripts in one transaction (the runner's singleTransaction). */
  singleTransaction?: boolean;
  /** Extra comment lines printed after a statement (each line must start with `--`). */
  annotate?: (script: PlannedScript, line: Extract<PlanLine, { sql: string }>) => string[];
}

/** The title comment of a plan document. */
export function planTitle(kind: PlanKind, count: number): string {
  return kind === 'dry-run'
    ? `-- pgshift dry run: ${count} pending migration(s); nothing below has been run`
    : `-- pgshift downgrade: ${count} migration(s) to revert`;
}

/** One script's text: statements with `;`, comments with `-- `, annotations after their statement. */
export function renderScriptSql(script: PlannedScript, options: RenderPlanOptions = {}): string {
  const out: string[] = [];
  for (const line of script.lines) {
    if ('comment' in line) {
      out.push(`-- ${line.comment}`);
      continue;
    }
    out.push(`${line.sql};`);
    const notes = options.annotate?.(script, line) ?? [];
    for (const note of notes) {
      if (!note.startsWith('--')) throw new Error(`an annotation must be an SQL comment: ${note}`);
      out.push(note);
    }
  }
  return out.join('\n');
}

/** The whole document (plan.sql / downgrade.sql); without annotations, exactly what S3 holds. */
export function renderPlanSql(
  kind: PlanKind,
  scripts: PlannedScript[],
  options: RenderPlanOptions = {},
): string {
  const parts = scripts.map((s) => renderScriptSql(s, options));
  const title = planTitle(kind, scripts.length);
  const body =
    options.singleTransaction && parts.length > 0
      ? [title, 'BEGIN;', ...parts, 'COMMIT;']
      : [title, ...parts];
  return `${body.join('\n\n')}\n`;
}
