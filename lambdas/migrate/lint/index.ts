import type { ClientBase } from 'pg';
import type { MigrationAnalysis, TableTouch } from '../../shared/analysis';
import { quoteIdent } from '../../shared/db';
import { compareVersions } from '../../shared/history';
import { readServerPgVersion } from '../../shared/pg-version';
import { records, unwrap } from '../parse-tree';
import { ensureParser, nodeKind, parseStatements, shorten } from '../statements';
import type { LintFinding, Migration, ParsedStatement, Severity } from '../types';
import { statementTouches, tableKey, type StatementTouch } from './analyze';
import { DEFAULT_THRESHOLDS, type MeasuredTouch, type RuleContext, type SizeThresholds } from './rule';
import { PGSHIFT_RULES } from './rules';
import { notNullCheckColumn } from './rules/set-not-null-without-check';
import { SQUAWK_DEFAULT_SEVERITY, SQUAWK_LOCK_RULES, type SeverityOverrides } from './severity';
import { runSquawk, type SquawkViolation } from './squawk';

export interface AnalyzeOptions {
  /** A live connection: sizes and row counts from the catalog, unqualified names resolved, server version. */
  client?: ClientBase;
  /** Defaults written into each analysis when a migration has no directive. @default "5s", "15min" */
  lockTimeout?: string;
  statementTimeout?: string;
  thresholds?: Partial<SizeThresholds>;
}

export interface LintOptions extends AnalyzeOptions {
  /** Server version for Squawk ("15.4"); read from the server when a client is given. */
  pgVersion?: string;
  severities?: SeverityOverrides;
  /** Squawk binary (default: PGSHIFT_SQUAWK_BIN or the npm package's). */
  squawkBinary?: string;
}

export interface AllowedFinding {
  version: string;
  rule: string;
  reason: string;
  line: number;
}

export interface LintResult {
  findings: LintFinding[];
  errors: number;
  warnings: number;
  /** Findings waived by `-- pgshift:allow`, with their reasons (the report shows them). */
  allowed: AllowedFinding[];
  analyses: MigrationAnalysis[];
  /** False in offline lint: pgshift's data-aware rules need the catalog. */
  measured: boolean;
}

interface Analysed {
  migration: Migration;
  statements: ParsedStatement[];
  touches: MeasuredTouch[][];
}

/** Sizes, rows and validated NOT NULL checks of one table, or undefined when it does not exist (yet). */
async function measureTable(
  client: ClientBase,
  t: StatementTouch,
): Promise<Partial<MeasuredTouch> | undefined> {
  const name = t.schema ? `${quoteIdent(t.schema)}.${quoteIdent(t.table)}` : quoteIdent(t.table);
  const res = await client.query<{
    schema: string;
    size: string;
    idx: string;
    rows: string;
    checks: string[];
  }>(
    `SELECT n.nspname AS schema, pg_table_size(c.oid)::bigint AS size, pg_indexes_size(c.oid)::bigint AS idx,
            c.reltuples::bigint AS rows,
            ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
                   WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated) AS checks
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.oid = to_regclass($1) AND c.relkind IN ('r', 'p')`,
    [name],
  );
  const row = res.rows[0];
  if (!row) return undefined;
  const qualified = `${quoteIdent(row.schema)}.${quoteIdent(t.table)}`;
  let hasRows = Number(row.rows) > 0;
  // reltuples is an estimate (-1 before the first ANALYZE): look for one row, without waiting on a lock.
  await client.query('BEGIN READ ONLY');
  try {
    await client.query("SET LOCAL lock_timeout = '2s'");
    const r = await client.query<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM ${qualified}) AS any`);
    hasRows = r.rows[0]?.any ?? hasRows;
  } catch {
    // keep the estimate
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
  const notNullChecks: string[] = [];
  for (const def of row.checks) {
    try {
      const [stmt] = parseStatements(`ALTER TABLE x ADD ${def}`, 'catalog');
      const [wrapped] = records(nodeKind(stmt?.node ?? {}).body.cmds);
      const cmd = unwrap(unwrap(wrapped, 'AlterTableCmd')?.def, 'Constraint') ?? {};
      const col = notNullCheckColumn(cmd);
      if (col) notNullChecks.push(col);
    } catch {
      // a constraint pgshift cannot read is simply not counted
    }
  }
  const estimated = Math.max(Number(row.rows), hasRows ? 1 : 0);
  return {
    schema: row.schema,
    sizeBytes: Number(row.size),
    indexBytes: Number(row.idx),
    estimatedRows: estimated,
    hasRows,
    notNullChecks,
  };
}

/** Parses and analyses each migration's up script; measures touched tables when a client is given. */
async function analyse(migrations: Migration[], client: ClientBase | undefined): Promise<Analysed[]> {
  await ensureParser();
  const created = new Set<string>();
  const cache = new Map<string, Promise<Partial<MeasuredTouch> | undefined>>();
  const out: Analysed[] = [];
  for (const migration of migrations) {
    const statements = parseStatements(migration.up.sql, migration.file, migration.up.firstLine);
    const touches: MeasuredTouch[][] = [];
    for (const stmt of statements) {
      const list: MeasuredTouch[] = [];
      for (const t of statementTouches(stmt, created)) {
        let measured: Partial<MeasuredTouch> | undefined;
        if (client && !t.createdHere) {
          const key = tableKey(t);
          if (!cache.has(key)) cache.set(key, measureTable(client, t));
          measured = await cache.get(key);
        }
        // A table that does not exist yet is created by an earlier pending migration: new and empty.
        const createdHere = t.createdHere || (client !== undefined && measured === undefined) || undefined;
        list.push({ ...t, ...measured, createdHere, schema: measured?.schema ?? t.schema ?? 'public' });
      }
      touches.push(list);
    }
    out.push({ migration, statements, touches });
  }
  return out;
}

function toAnalysis(a: Analysed, options: AnalyzeOptions): MigrationAnalysis {
  const touches: TableTouch[] = a.touches.flat().map((t) => ({
    schema: t.schema ?? 'public',
    table: t.table,
    lock: t.lock,
    rewrite: t.rewrite,
    indexBuild: t.indexBuild,
    fullScan: t.fullScan,
    statementIndex: t.statementIndex,
    ...(t.sizeBytes !== undefined
      ? { sizeBytes: t.sizeBytes, indexBytes: t.indexBytes, estimatedRows: t.estimatedRows }
      : {}),
  }));
  const requires = a.statements
    .filter((s) => nodeKind(s.node).kind === 'AlterEnumStmt' && !a.migration.up.noTransaction)
    .map(() => ({
      num: 120000,
      reason: 'ALTER TYPE ... ADD VALUE inside a transaction needs PostgreSQL 12',
    }));
  return {
    version: a.migration.version,
    name: a.migration.name,
    noTransaction: a.migration.up.noTransaction,
    lockTimeout: a.migration.up.lockTimeout ?? options.lockTimeout ?? '5s',
    statementTimeout: a.migration.up.statementTimeout ?? options.statementTimeout ?? '15min',
    touches,
    ...(requires.length > 0 ? { requiresServerVersion: requires.slice(0, 1) } : {}),
  };
}

/**
 * For each migration: the tables it touches and the lock it takes on each, with sizes from the catalog when
 * `options.client` is given. Preflight and the report read this; they never parse SQL.
 */
export async function analyzeMigrations(
  migrations: Migration[],
  options: AnalyzeOptions = {},
): Promise<MigrationAnalysis[]> {
  return (await analyse(migrations, options.client)).map((a) => toAnalysis(a, options));
}

/** The statement a 1-based file line falls in. */
function statementAt(statements: ParsedStatement[], line: number): ParsedStatement | undefined {
  let found: ParsedStatement | undefined;
  for (const s of statements) if (s.line <= line) found = s;
  return found;
}

/** The server version as Squawk's --pg-version wants it ("15.4"). */
async function serverVersion(client: ClientBase): Promise<string> {
  const v = await readServerPgVersion(client);
  return `${v.major}.${v.num % 10000}`;
}

/** Where one migration's findings go: waived by `-- pgshift:allow`, turned off, or kept with their severity. */
type FindingSink = (
  rule: string,
  source: 'squawk' | 'pgshift',
  base: Severity,
  stmt: ParsedStatement | undefined,
  f: { line: number; column: number; message: string; help?: string },
) => void;

function findingSink(m: Migration, overrides: SeverityOverrides, findings: LintFinding[]): FindingSink {
  return (rule, source, base, stmt, f) => {
    const allow = stmt
      ? m.up.allows.find((x) => x.rule === rule && x.statementIndex === stmt.index)
      : undefined;
    if (allow) return;
    const override = overrides[rule];
    if (override === 'off') return;
    findings.push({
      rule,
      source,
      severity: override ?? base,
      version: m.version,
      migration: m.name,
      file: m.file,
      line: f.line,
      column: f.column,
      message: f.message,
      ...(f.help ? { help: f.help } : {}),
      ...(stmt ? { statement: shorten(stmt.text) } : {}),
    });
  };
}

/** Squawk's violations of one migration, its lock rules lowered to warnings on new or empty tables. */
function squawkFindings(
  a: Analysed,
  violations: SquawkViolation[],
  measured: boolean,
  push: FindingSink,
): void {
  for (const v of violations) {
    const line = v.line + 1;
    const stmt = statementAt(a.statements, line);
    let severity: Severity = SQUAWK_DEFAULT_SEVERITY[v.rule_name] ?? 'warning';
    let message = v.message;
    const touches = (stmt ? a.touches[stmt.index] : undefined) ?? [];
    if (
      severity === 'error' &&
      measured &&
      SQUAWK_LOCK_RULES.has(v.rule_name) &&
      touches.length > 0 &&
      touches.every((t) => t.createdHere || t.hasRows === false)
    ) {
      severity = 'warning';
      message += ' (lowered to a warning: the table is new or empty, so the lock is brief)';
    }
    push(v.rule_name, 'squawk', severity, stmt, {
      line,
      column: v.column + 1,
      message,
      help: v.help ?? undefined,
    });
  }
}

/** pgshift's own rules on one migration (the data-aware ones only with the catalog). */
function pgshiftFindings(a: Analysed, ctx: RuleContext, push: FindingSink): void {
  for (const rule of PGSHIFT_RULES) {
    if (rule.dataAware && !ctx.measured) continue;
    for (const hit of rule.check(ctx)) {
      const stmt = a.statements[hit.statementIndex];
      push(rule.id, 'pgshift', hit.severity, stmt, {
        line: stmt?.line ?? a.migration.up.firstLine,
        column: stmt?.column ?? 1,
        message: hit.message,
        help: hit.help,
      });
    }
  }
}

/**
 * Lints migrations: Squawk's rules (configured for the server version and for how pgshift runs each file) and
 * pgshift's own rules, with `-- pgshift:allow` honoured and severities from the defaults and overrides.
 * Without `options.client` it runs offline (`pgshift lint <dir>`), and the data-aware rules stay quiet.
 */
export async function lintMigrations(
  migrations: Migration[],
  options: LintOptions = {},
): Promise<LintResult> {
  const analysed = await analyse(migrations, options.client);
  const thresholds = { ...DEFAULT_THRESHOLDS, ...options.thresholds };
  const pgVersion = options.pgVersion ?? (options.client ? await serverVersion(options.client) : undefined);
  const squawk = await runSquawk(
    migrations.map((m) => ({ key: m.version, script: m.up, inTransaction: !m.up.noTransaction })),
    { pgVersion, binary: options.squawkBinary },
  );
  const findings: LintFinding[] = [];
  const allowed: AllowedFinding[] = [];
  const measured = options.client !== undefined;
  for (const a of analysed) {
    const m = a.migration;
    // Every waiver is reported (the report shows it with its reason), whether or not Squawk still needed it.
    for (const x of m.up.allows)
      allowed.push({ version: m.version, rule: x.rule, reason: x.reason, line: x.line });
    const push = findingSink(m, options.severities ?? {}, findings);
    squawkFindings(a, squawk.get(m.version) ?? [], measured, push);
    const ctx: RuleContext = {
      migration: m,
      statements: a.statements,
      touches: a.touches,
      measured,
      thresholds,
    };
    pgshiftFindings(a, ctx, push);
  }
  findings.sort((x, y) => compareVersions(x.version, y.version) || x.line - y.line);
  return {
    findings,
    errors: findings.filter((f) => f.severity === 'error').length,
    warnings: findings.filter((f) => f.severity === 'warning').length,
    allowed,
    analyses: analysed.map((a) => toAnalysis(a, options)),
    measured,
  };
}

export { PGSHIFT_RULES } from './rules';
export { SQUAWK_DEFAULT_SEVERITY, parseSeverityOverrides, type SeverityOverrides } from './severity';
export { DEFAULT_THRESHOLDS, type SizeThresholds } from './rule';
export { squawkBinary } from './squawk';
