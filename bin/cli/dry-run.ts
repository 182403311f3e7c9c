import { createHash } from 'node:crypto';
import type { S3Client } from '@aws-sdk/client-s3';
import type { PlanKind, PlanLine, PlannedScript } from '../../lambdas/migrate/plan-sql';
import type { LintFinding } from '../../lambdas/migrate/types';
import type { MigrationAnalysis, TableTouch } from '../../lambdas/shared/analysis';
import { PlanSqlMismatchError } from '../../lambdas/shared/errors';
import { getJson, getText } from '../../lambdas/shared/s3';
import type { StepResults } from '../../lambdas/shared/step';
import { formatBytes } from '../../lambdas/shared/format';

// Loaded when a dry run is rendered: plan-sql's imports reach libpg-query, whose WASM module (a 128 MiB
// memory, ~10 MB resident) a backup or restore must not carry (docs/performance.md, CLI memory).
/* eslint-disable @typescript-eslint/no-unsafe-return -- lazy require(), typed by its declared return type */
const loadPlanSql = (): typeof import('../../lambdas/migrate/plan-sql') =>
  require('../../lambdas/migrate/plan-sql');
/* eslint-enable @typescript-eslint/no-unsafe-return */

/** Where a step wrote a dry run's SQL, as its output says (`plan.sql` of the plan step, `sql` of a downgrade). */
export interface SqlObjectRef {
  bucket?: string;
  key: string;
  bytes: number;
  sha256: string;
}

/** Which migrations a dry run read (the migrate step's `migrations` field). */
export interface MigrationsUsed {
  source: 'bundle' | 'deployed';
  bundle?: string;
  sha256?: string;
  count?: number;
}

/** A dry run as the CLI shows it: the exact SQL from S3 and, for a migrate plan, what plan.json adds. */
export interface DryRunDocument {
  kind: PlanKind;
  database?: string;
  executionId?: string;
  /** plan.sql / downgrade.sql, byte for byte (its sha256 checked against the step's output). */
  sql: string;
  sqlObject: SqlObjectRef;
  migrations?: MigrationsUsed;
  /** Per migration and statement; absent for a downgrade (its SQL is the document). */
  scripts?: PlannedScript[];
  findings: LintFinding[];
  analyses: MigrationAnalysis[];
  lint?: { errors: number; warnings: number };
  /** Apply would refuse: error-level findings and no allowUnsafe. */
  blocking?: boolean;
}

interface PlanJson {
  database?: string;
  executionId?: string;
  migrations?: MigrationsUsed;
  findings?: LintFinding[];
  analyses?: MigrationAnalysis[];
  lint?: { errors: number; warnings: number };
  scripts?: PlannedScript[];
}

function isSqlRef(value: unknown): value is SqlObjectRef {
  if (typeof value !== 'object' || value === null) return false;
  return (
    'key' in value &&
    typeof value.key === 'string' &&
    'sha256' in value &&
    typeof value.sha256 === 'string' &&
    'bytes' in value &&
    typeof value.bytes === 'number'
  );
}

/** The dry run's SQL object in a run's results: the plan step's, or a downgrade dry run's. */
export function dryRunSqlOf(
  results: StepResults | undefined,
): { kind: PlanKind; ref: SqlObjectRef; planJsonKey?: string; blocking?: boolean } | undefined {
  const plan = results?.plan;
  if (plan && isSqlRef(plan.sql)) {
    return {
      kind: 'dry-run',
      ref: plan.sql,
      planJsonKey: plan.written?.findings,
      blocking: plan.blocking === true,
    };
  }
  const migrate = results?.migrate;
  if (migrate?.dryRun === true && isSqlRef(migrate.sql)) return { kind: 'downgrade', ref: migrate.sql };
  return undefined;
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Fetches a dry run's SQL (and plan.json for a migrate plan) and refuses SQL that does not hash to what the
 * step recorded: what is printed is what the step planned, or nothing.
 */
export async function fetchDryRun(
  s3: S3Client,
  fallbackBucket: string | undefined,
  found: NonNullable<ReturnType<typeof dryRunSqlOf>>,
): Promise<DryRunDocument> {
  const bucket = found.ref.bucket ?? fallbackBucket;
  if (!bucket) throw new PlanSqlMismatchError(`no bucket to read ${found.ref.key} from: pass --bucket`);
  const store = { s3, bucket };
  const sql = await getText(store, found.ref.key);
  const actual = sha256(sql);
  if (actual !== found.ref.sha256 || Buffer.byteLength(sql, 'utf8') !== found.ref.bytes) {
    throw new PlanSqlMismatchError(
      `s3://${bucket}/${found.ref.key} hashes to ${actual} (${Buffer.byteLength(sql, 'utf8')} bytes), not the ` +
        `${found.ref.sha256} (${found.ref.bytes} bytes) the migrate step wrote: it changed since. Nothing was ` +
        'applied by this dry run; run it again and find out who writes to plans/.',
      { details: { key: found.ref.key, expected: found.ref.sha256, actual } },
    );
  }
  const plan = found.planJsonKey ? await getJson<PlanJson>(store, found.planJsonKey) : {};
  return {
    kind: found.kind,
    database: plan.database,
    executionId: plan.executionId,
    sql,
    sqlObject: { ...found.ref, bucket },
    migrations: plan.migrations,
    scripts: plan.scripts,
    findings: plan.findings ?? [],
    analyses: plan.analyses ?? [],
    lint: plan.lint,
    blocking: found.blocking,
  };
}

/** A Squawk rule's page, or pgshift's own rule's section of docs/lint-rules.md (under `docsUrl`). */
export function ruleUrl(finding: Pick<LintFinding, 'rule' | 'source'>, docsUrl = 'docs'): string {
  return finding.source === 'squawk'
    ? `https://squawkhq.com/docs/${finding.rule}`
    : `${docsUrl.replace(/\/$/, '')}/lint-rules.md#${finding.rule}`;
}

type SqlLine = Extract<PlanLine, { sql: string }>;

/** The migration's own statement a finding concerns: the last one starting at or before its line. */
function findingStatement(script: PlannedScript, finding: LintFinding): number | undefined {
  let index: number | undefined;
  for (const line of script.lines) {
    if (!('sql' in line) || line.statementIndex === undefined || line.line === undefined) continue;
    if (index === undefined || line.line <= finding.line) index = line.statementIndex;
  }
  return index;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

function sizeOf(t: TableTouch): string {
  if (t.sizeBytes === undefined) return 'new or unmeasured';
  return `${formatBytes(t.sizeBytes, { wholeBytes: true })}, ~${t.estimatedRows ?? 0} rows`;
}

/** What is said beside each statement: its lint findings, then the lock it takes on each table it touches. */
function statementNotes(
  doc: DryRunDocument,
  docsUrl: string | undefined,
): (script: PlannedScript, line: SqlLine) => string[] {
  return (script, line) => {
    if (line.statementIndex === undefined || script.direction !== 'up') return [];
    const findings = doc.findings.filter(
      (f) => f.version === script.version && findingStatement(script, f) === line.statementIndex,
    );
    const touches =
      doc.analyses
        .find((a) => a.version === script.version)
        ?.touches.filter((t) => t.statementIndex === line.statementIndex) ?? [];
    return [
      ...findings.map(
        (f) =>
          `--   ${f.severity === 'error' ? '✗ error' : '⚠ warning'} [${f.rule}] ${oneLine(f.message)} (${ruleUrl(f, docsUrl)})`,
      ),
      ...touches.map(
        (t) =>
          `--   lock: ${t.lock} on ${t.schema}.${t.table} (${sizeOf(t)})` +
          `${t.rewrite ? ', rewrites the table' : ''}${t.fullScan ? ', scans the table' : ''}`,
      ),
    ];
  };
}

/**
 * The dry run's SQL with findings and locks as comment lines after their statement. Without any, it is the S3
 * object byte for byte; with them, removing the `--   ` lines gives it back (still runnable SQL either way).
 */
export function annotatedSql(doc: DryRunDocument, docsUrl?: string): string {
  if (!doc.scripts) return doc.sql;
  return loadPlanSql().renderPlanSql(doc.kind, doc.scripts, { annotate: statementNotes(doc, docsUrl) });
}

/** Human output of a dry run: where the SQL is, then the SQL with its findings. */
export function dryRunHuman(doc: DryRunDocument): string {
  const ref = doc.sqlObject;
  return [
    `SQL that would run (s3://${ref.bucket ?? '?'}/${ref.key}, ${ref.bytes} bytes, sha256 ${ref.sha256}):`,
    '',
    annotatedSql(doc).trimEnd(),
  ].join('\n');
}

function cell(text: string): string {
  return oneLine(text).replace(/\|/g, '\\|');
}

/** A code fence longer than any run of backticks in the text, so SQL can never close it early. */
function fence(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  return '`'.repeat(Math.max(3, longest + 1));
}

function migrationsLine(m: MigrationsUsed | undefined): string {
  if (!m) return 'Migrations: unknown';
  const count = m.count === undefined ? '' : ` (${m.count} migrations)`;
  return m.source === 'bundle'
    ? `Migrations: bundle \`${m.bundle}\`, sha256 \`${m.sha256}\`${count}`
    : `Migrations: the files deployed with the migrate function${count}`;
}

export interface MarkdownOptions {
  /** Base URL of pgshift's docs folder for rule links. @default "docs" (relative, as in the repository) */
  docsUrl?: string;
}

/** The plan's heading, its one-line verdict, the migrations used and the SQL object. */
function planSummary(doc: DryRunDocument): string[] {
  const scripts = doc.scripts ?? [];
  const errors = doc.lint?.errors ?? doc.findings.filter((f) => f.severity === 'error').length;
  const warnings = doc.lint?.warnings ?? doc.findings.filter((f) => f.severity === 'warning').length;
  const title = doc.kind === 'dry-run' ? 'pgshift plan' : 'pgshift downgrade plan';
  return [
    `## ${title}${doc.database ? `: \`${doc.database}\`` : ''}`,
    '',
    doc.kind === 'dry-run'
      ? `**${scripts.length} pending migration(s)**, lint: ${errors} error(s), ${warnings} warning(s). ` +
        (doc.blocking
          ? '**Apply would refuse** (error-level findings): fix them or waive each with `-- pgshift:allow <rule> <reason>`.'
          : scripts.length === 0
            ? 'Nothing to apply.'
            : 'Apply would run the SQL below.')
      : 'Reverting runs the SQL below.',
    '',
    migrationsLine(doc.migrations),
    `SQL: \`s3://${doc.sqlObject.bucket ?? '?'}/${doc.sqlObject.key}\` (${doc.sqlObject.bytes} bytes, sha256 \`${doc.sqlObject.sha256}\`)`,
    '',
  ];
}

/** One row per pending migration: how it runs and the tables it touches. */
function migrationsTable(doc: DryRunDocument): string[] {
  const scripts = doc.scripts ?? [];
  if (scripts.length === 0) return [];
  const out = ['| Migration | Runs | Tables touched (lock, size) |', '|---|---|---|'];
  for (const s of scripts) {
    const touches = doc.analyses.find((a) => a.version === s.version)?.touches ?? [];
    const tables = new Map<string, TableTouch>();
    for (const t of touches) tables.set(`${t.schema}.${t.table}`, t);
    out.push(
      `| \`${cell(s.file)}\` | ${s.empty ? 'empty' : s.noTransaction ? 'outside a transaction' : 'in its own transaction'} | ` +
        `${[...tables.entries()].map(([name, t]) => `${cell(name)} (${t.lock}, ${sizeOf(t)})`).join('<br>') || 'none'} |`,
    );
  }
  return [...out, ''];
}

function findingsTable(doc: DryRunDocument, docsUrl: string | undefined): string[] {
  if (doc.findings.length === 0) return [];
  const out = ['### Findings', '', '| | Rule | Where | Message |', '|---|---|---|---|'];
  for (const f of doc.findings) {
    out.push(
      `| ${f.severity === 'error' ? '✗ error' : '⚠ warning'} | [${f.rule}](${ruleUrl(f, docsUrl)}) | ` +
        `\`${cell(f.file)}:${f.line}\` | ${cell(f.message)} |`,
    );
  }
  return [...out, ''];
}

function locksTable(doc: DryRunDocument): string[] {
  const locks = (doc.scripts ?? []).flatMap((s) =>
    (doc.analyses.find((a) => a.version === s.version)?.touches ?? []).map((t) => ({ s, t })),
  );
  if (locks.length === 0) return [];
  const out = [
    '### Locks per statement',
    '',
    '| Migration | Statement | Table | Lock | Size | Rewrite / scan |',
    '|---|---|---|---|---|---|',
  ];
  for (const { s, t } of locks) {
    const stmt = s.lines.find((l): l is SqlLine => 'sql' in l && l.statementIndex === t.statementIndex);
    out.push(
      `| \`${cell(s.file)}\` | ${stmt ? `\`${cell(stmt.sql.slice(0, 80))}${stmt.sql.length > 80 ? '…' : ''}\` (line ${stmt.line})` : `#${t.statementIndex + 1}`} | ` +
        `${cell(`${t.schema}.${t.table}`)} | ${t.lock} | ${sizeOf(t)} | ` +
        `${[t.rewrite ? 'rewrites' : '', t.fullScan ? 'full scan' : '', t.indexBuild ? 'index build' : ''].filter(Boolean).join(', ') || 'no'} |`,
    );
  }
  return [...out, ''];
}

/** The exact SQL per migration (or the whole object), each in a fenced block with its findings noted. */
function sqlBlocks(doc: DryRunDocument, docsUrl: string | undefined): string[] {
  const out = ['### SQL', ''];
  const notes = statementNotes(doc, docsUrl);
  const blocks = doc.scripts
    ? doc.scripts.map((s) => ({
        title: `${s.file}`,
        sql: loadPlanSql().renderScriptSql(s, { annotate: notes }),
      }))
    : [{ title: doc.sqlObject.key, sql: doc.sql.trimEnd() }];
  for (const b of blocks) {
    const f = fence(b.sql);
    out.push(
      `<details open><summary><code>${b.title}</code></summary>`,
      '',
      `${f}sql`,
      b.sql,
      f,
      '',
      '</details>',
      '',
    );
  }
  if (doc.scripts?.length === 0) out.push('No pending migrations.', '');
  return out;
}

/**
 * `pgshift plan`'s Markdown for a pull request (a CI job summary): pending migrations, the tables each touches
 * with sizes and the lock each statement takes, findings with rule links, and the exact SQL per migration.
 */
export function planMarkdown(doc: DryRunDocument, options: MarkdownOptions = {}): string {
  const out = [
    ...planSummary(doc),
    ...migrationsTable(doc),
    ...findingsTable(doc, options.docsUrl),
    ...locksTable(doc),
    ...sqlBlocks(doc, options.docsUrl),
  ];
  return `${out.join('\n').trimEnd()}\n`;
}
