import type { ClientBase } from 'pg';
import {
  DriftDetectedError,
  InterruptedMigrationError,
  LockTimeoutError,
  MigrationFailedError,
  PartialMigrationError,
  MigrationFileError,
  PgshiftError,
  UnsafeMigrationError,
} from '../shared/errors';
import {
  ensureHistoryTables,
  HISTORY_TABLE,
  historyTablesExist,
  MIGRATIONS_TABLE,
  compareVersions,
  readAppliedMigrations,
  recordHistoryEvent,
  type AppliedMigration,
} from '../shared/history';
import { silentLogger, type Log } from '../shared/logger';
import { quoteIdent } from '../shared/db';
import { assertFitsBudget, cappedStatementTimeoutMs, durationMs, type TimeBudget } from './budget';
import { statementsOf } from './files';
import { scriptSteps, SESSION_RESETS, type TimeoutOptions } from './framing';
import { lintMigrations, type LintOptions, type LintResult } from './lint';
import { withMigrationLock } from './lock';
import { planScript, renderPlanSql, type PlannedScript } from './plan-sql';
import { ensureParser, idempotentForm, nodeKind, shorten } from './statements';
import type { Migration, MigrationScript, ParsedStatement, ProgressCallback } from './types';

export type { TimeoutOptions } from './framing';

/** Where the database stands against the folder. */
export interface MigrationPlan {
  applied: AppliedMigration[];
  /** Files not applied yet, in version order. */
  pending: Migration[];
  /** Pending versions lower than the highest applied one (a branch merged late). */
  outOfOrder: string[];
  /** Applied versions whose file changed since (sha256 differs). */
  checksumMismatches: { version: string; name: string; applied: string; file: string }[];
  /** Applied versions with no file in the folder. */
  missingFiles: { version: string; name: string }[];
}

/** Compares the applied set with the files. Read-only: never creates pgshift's tables. */
export async function planMigrations(client: ClientBase, migrations: Migration[]): Promise<MigrationPlan> {
  const applied = await readAppliedMigrations(client);
  const files = new Map(migrations.map((m) => [m.version, m]));
  const appliedVersions = new Set(applied.map((a) => a.version));
  const maxApplied = applied.reduce((max, a) => (BigInt(a.version) > max ? BigInt(a.version) : max), -1n);
  const pending = migrations.filter((m) => !appliedVersions.has(m.version));
  return {
    applied,
    pending,
    outOfOrder: pending.filter((m) => BigInt(m.version) < maxApplied).map((m) => m.version),
    checksumMismatches: applied
      .filter((a) => files.has(a.version) && files.get(a.version)?.checksum !== a.checksum)
      .map((a) => ({
        version: a.version,
        name: a.name,
        applied: a.checksum,
        file: files.get(a.version)?.checksum ?? '',
      })),
    missingFiles: applied
      .filter((a) => !files.has(a.version))
      .map((a) => ({ version: a.version, name: a.name })),
  };
}

export interface DryRunResult {
  plan: MigrationPlan;
  /** The exact SQL that `applyMigrations` would run, in order. */
  sql: string;
  /** The same, per migration and statement (for annotated output: findings beside their statement). */
  scripts: PlannedScript[];
  lint: LintResult;
  /** Error-level findings and `allowUnsafe` not set. */
  blocking: boolean;
}

export interface DryRunOptions extends TimeoutOptions {
  singleTransaction?: boolean;
  allowUnsafe?: boolean;
  lint?: Omit<LintOptions, 'client'>;
}

/** The SQL `apply` would run plus the lint findings; changes nothing (not even pgshift's own tables). */
export async function dryRun(
  client: ClientBase,
  migrations: Migration[],
  options: DryRunOptions = {},
): Promise<DryRunResult> {
  await ensureParser();
  const plan = await planMigrations(client, migrations);
  const lint = await lintMigrations(plan.pending, {
    ...options.lint,
    client,
    lockTimeout: options.lockTimeout,
    statementTimeout: options.statementTimeout,
  });
  const framing = options.singleTransaction ? 'outer-transaction' : 'own-transaction';
  const scripts = plan.pending.map((m) => planScript(m, m.up, 'up', options, framing));
  const sql = renderPlanSql('dry-run', scripts, { singleTransaction: options.singleTransaction });
  return { plan, sql, scripts, lint, blocking: lint.errors > 0 && !options.allowUnsafe };
}

export interface ApplyOptions extends TimeoutOptions {
  /** Recorded as applied_by and in history (the Step Functions execution id). */
  executionId: string;
  /** All pending migrations in one transaction (refused when one is no-transaction). @default false */
  singleTransaction?: boolean;
  /** Apply pending versions lower than the highest applied one. @default false */
  allowOutOfOrder?: boolean;
  /** Apply despite error-level lint findings. @default false */
  allowUnsafe?: boolean;
  /** Lint settings (severities, thresholds, Squawk binary). */
  lint?: Omit<LintOptions, 'client'>;
  log?: Log;
  onProgress?: ProgressCallback;
  /**
   * The runner's time (Lambda's remaining time): a migration whose estimate does not fit is not started
   * (MigrationTimeBudgetError), and statement_timeout is lowered to the time left. @default none (no limit)
   */
  budget?: TimeBudget;
}

export interface AppliedResult {
  version: string;
  name: string;
  checksum: string;
  durationMs: number;
}

export interface ApplyResult {
  applied: AppliedResult[];
  /** Versions that were already applied before this run. */
  alreadyApplied: number;
  lint: { errors: number; warnings: number };
}

interface DbError {
  code?: string;
  message?: string;
  position?: string;
  detail?: string;
  hint?: string;
}

/** Line/column in the file of a 1-based character position inside a statement. */
function positionInFile(
  stmt: ParsedStatement,
  position: number | undefined,
): { line: number; column: number } {
  if (!position) return { line: stmt.line, column: stmt.column };
  const before = stmt.text.slice(0, position - 1).split('\n');
  return before.length === 1
    ? { line: stmt.line, column: stmt.column + before[0].length }
    : { line: stmt.line + before.length - 1, column: before[before.length - 1].length + 1 };
}

/** Turns PostgreSQL's error into pgshift's: file, statement, message, position and SQLSTATE. */
function migrationError(
  m: Migration,
  file: string,
  stmt: ParsedStatement | undefined,
  err: unknown,
  state: {
    lockTimeout: string;
    partial: boolean;
    invalidIndexes?: InvalidIndex[];
    /** The script's statements: those before `stmt` already ran when it is a no-transaction script. */
    statements?: ParsedStatement[];
  },
): PgshiftError {
  const e = err as DbError;
  const at = stmt ? positionInFile(stmt, e.position ? Number(e.position) : undefined) : undefined;
  const where = at ? `${file}:${at.line}:${at.column}` : file;
  const details = {
    version: m.version,
    file,
    statement: stmt ? shorten(stmt.text, 500) : undefined,
    statementIndex: stmt?.index,
    line: at?.line,
    column: at?.column,
    sqlState: e.code,
    position: e.position ? Number(e.position) : undefined,
    pgMessage: e.message,
    ...(e.detail ? { pgDetail: e.detail } : {}),
    ...(e.hint ? { pgHint: e.hint } : {}),
    ...(state.invalidIndexes && state.invalidIndexes.length > 0
      ? { invalidIndexes: state.invalidIndexes }
      : {}),
  };
  const outcome = state.partial
    ? `It ran outside a transaction (-- pgshift:no-transaction): nothing was rolled back, earlier statements stayed applied.${invalidIndexAdvice(state.invalidIndexes ?? [])} Re-run the migration once fixed.`
    : 'The migration was rolled back: schema and history are unchanged.';
  const ran = state.partial && stmt ? (state.statements ?? []).filter((s) => s.index < stmt.index) : [];
  if (e.code === '55P03' && ran.length > 0) {
    // A retry would re-run the statements that already ran (no transaction undid them): never retried.
    return new PartialMigrationError(
      `${where}: waited longer than lock_timeout (${state.lockTimeout}) for a lock in ${m.file}: ${e.message ?? ''}. ` +
        `It ran outside a transaction (-- pgshift:no-transaction) and ${ran.length} earlier statement(s) stayed applied: ` +
        `${ran.map((r) => shorten(r.text, 120)).join('; ')}.${invalidIndexAdvice(state.invalidIndexes ?? [])} ` +
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

export interface InvalidIndex {
  schema: string;
  index: string;
  table: string;
  /** What to run. */
  fix: string;
}

function invalidIndexAdvice(invalid: InvalidIndex[]): string {
  if (invalid.length === 0) return '';
  return ` It left INVALID index(es) ${invalid.map((i) => `${i.schema}.${i.index}`).join(', ')}: run ${invalid.map((i) => i.fix).join(' ')} before re-running.`;
}

/** Invalid indexes (a failed CREATE INDEX CONCURRENTLY leaves one), optionally only those named. */
export async function findInvalidIndexes(
  client: ClientBase,
  names?: { schema?: string; index: string }[],
): Promise<InvalidIndex[]> {
  if (names && names.length === 0) return [];
  const res = await client.query<{ schema: string; index: string; table: string }>(
    `SELECT n.nspname AS schema, ci.relname AS index, ct.relname AS table
       FROM pg_index i
       JOIN pg_class ci ON ci.oid = i.indexrelid
       JOIN pg_class ct ON ct.oid = i.indrelid
       JOIN pg_namespace n ON n.oid = ci.relnamespace
      WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')
      ORDER BY 1, 2`,
  );
  const rows = res.rows.filter(
    (r) =>
      !names || names.some((n) => n.index === r.index && (n.schema === undefined || n.schema === r.schema)),
  );
  return rows.map((r) => ({
    ...r,
    fix: `DROP INDEX CONCURRENTLY IF EXISTS ${quote(r.schema)}.${quote(r.index)};`,
  }));
}

/** Quotes a name only when it needs it, so the printed fix reads as a person would write it. */
function quote(name: string): string {
  return /^[a-z_][a-z0-9_]*$/.test(name) ? name : quoteIdent(name);
}

/** Index names a migration builds (to find the INVALID ones a failed concurrent build leaves). */
export function indexesBuilt(statements: ParsedStatement[]): { schema?: string; index: string }[] {
  return statements.flatMap((s) => {
    const { kind, body } = nodeKind(s.node);
    if (kind !== 'IndexStmt' || typeof body.idxname !== 'string') return [];
    return [{ schema: (body.relation as { schemaname?: string })?.schemaname, index: body.idxname }];
  });
}

async function recordApplied(
  client: ClientBase,
  m: Migration,
  executionId: string,
  durationMs: number,
): Promise<void> {
  await client.query(
    `INSERT INTO ${MIGRATIONS_TABLE} (version, name, checksum, duration_ms, applied_by, direction)
     VALUES ($1, $2, $3, $4, $5, 'up')`,
    [m.version, m.name, m.checksum, durationMs, executionId],
  );
  await recordHistoryEvent(client, {
    event: 'up',
    status: 'succeeded',
    executionId,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    durationMs,
  });
}

async function recordFailure(
  client: ClientBase,
  m: Migration,
  executionId: string,
  error: PgshiftError,
  direction: 'up' | 'down',
): Promise<void> {
  await recordHistoryEvent(client, {
    event: direction,
    status: 'failed',
    executionId,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    error: error.message,
    details: error.details,
  }).catch(() => undefined);
}

/** A no-transaction migration whose run stopped with no result recorded (its client died). */
export interface InterruptedMigration {
  version: string;
  name: string;
  checksum: string;
  executionId: string;
  startedAt: string;
  invalidIndexes: InvalidIndex[];
}

/**
 * 'up' events still 'running' with no later 'up' event for their version. Only meaningful while holding the
 * migration lock (or when none is held): otherwise the run may be live.
 */
export async function findUnfinishedRuns(
  client: ClientBase,
): Promise<
  { id: string; version: string; name: string; checksum: string; executionId: string; startedAt: string }[]
> {
  if (!(await historyTablesExist(client))) return [];
  const res = await client.query<{
    id: string;
    version: string;
    name: string;
    checksum: string;
    execution_id: string;
    started_at: Date;
  }>(
    `SELECT r.id::text AS id, r.version::text AS version, r.name, r.checksum, r.execution_id, r.started_at
       FROM ${HISTORY_TABLE} r
      WHERE r.event = 'up' AND r.status = 'running'
        AND NOT EXISTS (SELECT 1 FROM ${HISTORY_TABLE} l WHERE l.event = 'up' AND l.version = r.version AND l.id > r.id)
      ORDER BY r.id`,
  );
  return res.rows.map((r) => ({
    id: r.id,
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    executionId: r.execution_id,
    startedAt: new Date(r.started_at).toISOString(),
  }));
}

/** What `recordInterrupted` writes as the failure's error text (verify says the same). */
export function interruptedMessage(
  r: { version: string; name: string; executionId: string; startedAt: string },
  invalid: InvalidIndex[],
): string {
  return (
    `Migration ${r.version} ${r.name} was interrupted: the client of execution ${r.executionId} died or was stopped ` +
    `while running it (started ${r.startedAt}), so no result was recorded. It ran outside a transaction ` +
    `(-- pgshift:no-transaction): which of its statements ran is unknown, and those that ran stayed.` +
    invalidIndexAdvice(invalid)
  );
}

/** Records each unfinished run as failed (in the name of the execution that ran it); call under the lock. */
async function recordInterrupted(
  client: ClientBase,
  migrations: Migration[],
  executionId: string,
): Promise<InterruptedMigration[]> {
  const out: InterruptedMigration[] = [];
  for (const r of await findUnfinishedRuns(client)) {
    const m = migrations.find((x) => x.version === r.version);
    const invalidIndexes = m
      ? await findInvalidIndexes(client, indexesBuilt(statementsOf(m.up, m.file)))
      : [];
    await recordHistoryEvent(client, {
      event: 'up',
      status: 'failed',
      executionId: r.executionId,
      version: r.version,
      name: r.name,
      checksum: r.checksum,
      startedAt: new Date(r.startedAt),
      error: interruptedMessage(r, invalidIndexes),
      details: { interrupted: true, runningEventId: r.id, recordedBy: executionId, invalidIndexes },
    });
    out.push({ ...r, invalidIndexes });
  }
  return out;
}

interface InterruptedAttempt {
  executionId: string;
  startedAt: string;
  checksum: string;
  /** INVALID indexes it had left when the next run recorded it (they name the statement that was running). */
  invalidIndexes: InvalidIndex[];
}

/** Per version, the interrupted failure when it is the latest 'up' event of that version. */
async function lastInterrupted(client: ClientBase): Promise<Map<string, InterruptedAttempt>> {
  const res = await client.query<{
    version: string;
    execution_id: string;
    started_at: Date;
    checksum: string;
    details: { invalidIndexes?: InvalidIndex[] };
  }>(
    `SELECT version, execution_id, started_at, checksum, details FROM (
       SELECT DISTINCT ON (version) version::text AS version, status, execution_id, started_at, checksum, details
         FROM ${HISTORY_TABLE} WHERE event = 'up' AND version IS NOT NULL ORDER BY version, id DESC) last
      WHERE status = 'failed' AND details ->> 'interrupted' = 'true'`,
  );
  return new Map(
    res.rows.map((r) => [
      r.version,
      {
        executionId: r.execution_id,
        startedAt: new Date(r.started_at).toISOString(),
        checksum: r.checksum,
        invalidIndexes: r.details.invalidIndexes ?? [],
      },
    ]),
  );
}

/**
 * The statements an interrupted run may have run. Statements run in order and the client died during one: when
 * it left an INVALID index, the statement building it was the one running, so only those before it ran (and
 * its own leftover is gone once dropped). Otherwise any of them may have.
 */
function mayHaveRun(statements: ParsedStatement[], attempt: InterruptedAttempt): ParsedStatement[] {
  const running = statements.findIndex((s) =>
    indexesBuilt([s]).some((b) => attempt.invalidIndexes.some((i) => i.index === b.index)),
  );
  return running >= 0 ? statements.slice(0, running) : statements;
}

/**
 * Safe to run again whether or not it ran before: an IF [NOT] EXISTS form (or SET). Kinds without such a form
 * (INSERT, UPDATE, SELECT f()...) are not. (CREATE INDEX ... IF NOT EXISTS skips an INVALID leftover, which
 * the runner refuses first.)
 */
function isRerunnable(s: ParsedStatement): boolean {
  return idempotentForm(s.node) === true;
}

/** Refuses a run over a folder that disagrees with what is applied (edited files, late versions). */
function checkPlan(plan: MigrationPlan, allowOutOfOrder: boolean): void {
  if (plan.checksumMismatches.length > 0) {
    throw new DriftDetectedError(
      `Applied migration file(s) changed since they were applied: ${plan.checksumMismatches.map((c) => `${c.version} ${c.name}`).join(', ')}. Restore the original files (or write a new migration); run verify for details.`,
      { details: { checksumMismatches: plan.checksumMismatches } },
    );
  }
  if (plan.outOfOrder.length > 0 && !allowOutOfOrder) {
    throw new MigrationFileError(
      `Pending migration(s) ${plan.outOfOrder.join(', ')} are older than the latest applied version; renumber them after it`,
      { details: { outOfOrder: plan.outOfOrder } },
    );
  }
}

/**
 * Applies pending migrations: advisory lock (fails fast) → history tables → plan → refuse drift/out-of-order →
 * lint (refuse error-level findings unless allowUnsafe) → each migration in its own transaction with
 * lock_timeout/statement_timeout and its history row in the same transaction → unlock.
 */
export async function applyMigrations(
  client: ClientBase,
  migrations: Migration[],
  options: ApplyOptions,
): Promise<ApplyResult> {
  const log = options.log ?? silentLogger;
  await ensureParser();
  return withMigrationLock(client, async () => {
    await ensureHistoryTables(client);
    // Under the lock no other run is live: a 'running' event with no result is a run whose client died.
    const recorded = await recordInterrupted(client, migrations, options.executionId);
    for (const r of recorded) log.warn('recorded an interrupted migration as failed', { ...r });
    const plan = await planMigrations(client, migrations);
    checkPlan(plan, options.allowOutOfOrder === true);
    if (options.singleTransaction) {
      const noTx = plan.pending.filter((m) => m.up.noTransaction);
      if (noTx.length > 0) {
        throw new MigrationFileError(
          `Cannot apply in one transaction: ${noTx.map((m) => m.file).join(', ')} must run outside a transaction`,
        );
      }
    }
    const lint = await lintMigrations(plan.pending, {
      ...options.lint,
      client,
      lockTimeout: options.lockTimeout,
      statementTimeout: options.statementTimeout,
    });
    if (lint.errors > 0 && !options.allowUnsafe) {
      const first = lint.findings.filter((f) => f.severity === 'error').slice(0, 5);
      throw new UnsafeMigrationError(
        `${lint.errors} error-level lint finding(s); nothing was applied. ${first.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.message}`).join(' | ')}. Fix them, waive one with "-- pgshift:allow <rule> <reason>", or run with allowUnsafe.`,
        { details: { errors: lint.errors, findings: first } },
      );
    }
    const interrupted = await lastInterrupted(client);
    // A concurrent index build that failed earlier left an INVALID index; IF NOT EXISTS would skip it silently.
    for (const m of plan.pending.filter((x) => x.up.noTransaction)) {
      const statements = statementsOf(m.up, m.file);
      const leftovers = await findInvalidIndexes(client, indexesBuilt(statements));
      const died = interrupted.get(m.version);
      const how = died
        ? `the client of execution ${died.executionId} died while running it (started ${died.startedAt})`
        : undefined;
      if (leftovers.length > 0) {
        throw new MigrationFailedError(
          `${m.file}: an earlier ${how ? `run was interrupted (${how}) and` : 'failed run'} left INVALID index(es) ${leftovers.map((i) => `${i.schema}.${i.index}`).join(', ')}; run ${leftovers.map((i) => i.fix).join(' ')} and apply again`,
          { details: { version: m.version, file: m.file, invalidIndexes: leftovers, interrupted: died } },
        );
      }
      // Unchanged since it was interrupted and not safe to re-run: someone must look at what ran first.
      const unsafe =
        died && died.checksum === m.checksum
          ? mayHaveRun(statements, died).filter((x) => !isRerunnable(x))
          : [];
      if (unsafe.length > 0) {
        throw new InterruptedMigrationError(
          `${m.file}: an earlier run was interrupted (${how}). It ran outside a transaction, so these statements may ` +
            `have run and stayed (which of them is unknown), and running them again is not safe: ` +
            `${unsafe.map((x) => `line ${x.line}: ${shorten(x.text, 120)}`).join('; ')}. pgshift does not re-run it as is. ` +
            'Check the database for what they create or change, then make them idempotent (IF NOT EXISTS / IF EXISTS) ' +
            'or remove the ones that ran (an edited file is how pgshift knows it was looked at), and apply again.',
          {
            details: {
              version: m.version,
              file: m.file,
              interrupted: died,
              mayHaveRun: unsafe.map((x) => shorten(x.text, 500)),
            },
          },
        );
      }
    }
    const applied: AppliedResult[] = [];
    const total = plan.pending.length;
    // In one transaction a stop would roll back everything: the whole run must fit before it starts.
    if (options.singleTransaction) assertFitsBudget(options.budget, 'apply', [], plan.pending, true);
    if (options.singleTransaction && total > 0) await client.query('BEGIN');
    try {
      for (const [i, m] of plan.pending.entries()) {
        if (!options.singleTransaction)
          assertFitsBudget(options.budget, 'apply', applied, plan.pending.slice(i));
        options.onProgress?.({ index: i + 1, total, version: m.version, name: m.name });
        log.info('applying migration', { version: m.version, name: m.name, index: i + 1, total });
        const started = Date.now();
        if (m.up.noTransaction) await runOutsideTransaction(client, m, options);
        else await runInTransaction(client, m, options, options.singleTransaction === true);
        applied.push({
          version: m.version,
          name: m.name,
          checksum: m.checksum,
          durationMs: Date.now() - started,
        });
      }
      if (options.singleTransaction && total > 0) await client.query('COMMIT');
    } catch (err) {
      if (options.singleTransaction && total > 0) {
        await client.query('ROLLBACK').catch(() => undefined);
        const failed = plan.pending[applied.length];
        if (err instanceof PgshiftError && failed)
          await recordFailure(client, failed, options.executionId, err, 'up');
      }
      throw err;
    }
    return {
      applied,
      alreadyApplied: plan.applied.length,
      lint: { errors: lint.errors, warnings: lint.warnings },
    };
  });
}

/**
 * Before each statement under a budget: statement_timeout lowered to the time left, so PostgreSQL cancels the
 * statement (and the migration rolls back or is recorded as failed) before Lambda kills the client.
 */
async function capStatementTimeout(
  client: ClientBase,
  budget: TimeBudget | undefined,
  configured: string,
  scope: 'local' | 'session',
): Promise<void> {
  if (!budget) return;
  const ms = cappedStatementTimeoutMs(configured, budget, (budget.now ?? Date.now)());
  // Only when it lowers the framing's value: while the configured timeout fits, apply sends exactly the SQL the
  // dry run printed (docs/migrations.md); once lowered it only goes lower, as the time left shrinks.
  if (ms === durationMs(configured)) return;
  await client.query(`SET ${scope === 'local' ? 'LOCAL ' : ''}statement_timeout = ${ms}`);
}

async function runInTransaction(
  client: ClientBase,
  m: Migration,
  options: ApplyOptions,
  outer: boolean,
): Promise<void> {
  const { steps, lockTimeout, statementTimeout } = scriptSteps(
    m,
    m.up,
    options,
    outer ? 'outer-transaction' : 'own-transaction',
  );
  const started = Date.now();
  let current: ParsedStatement | undefined;
  try {
    for (const step of steps) {
      current = step.statement;
      if (step.statement) await capStatementTimeout(client, options.budget, statementTimeout, 'local');
      await client.query(step.sql);
    }
    current = undefined;
    await recordApplied(client, m, options.executionId, Date.now() - started);
    if (!outer) await client.query('COMMIT');
  } catch (err) {
    const error =
      err instanceof PgshiftError
        ? err
        : migrationError(m, m.file, current, err, { lockTimeout, partial: false });
    if (!outer) {
      await client.query('ROLLBACK').catch(() => undefined);
      await recordFailure(client, m, options.executionId, error, 'up');
    }
    throw error;
  }
}

async function runOutsideTransaction(client: ClientBase, m: Migration, options: ApplyOptions): Promise<void> {
  const { steps, statements, lockTimeout, statementTimeout } = scriptSteps(m, m.up, options);
  // Committed before the first statement (each statement commits on its own): if this client dies, the next
  // run finds a 'running' event with no result after it and records the migration as interrupted.
  await recordHistoryEvent(client, {
    event: 'up',
    status: 'running',
    executionId: options.executionId,
    version: m.version,
    name: m.name,
    checksum: m.checksum,
    details: { noTransaction: true, statements: statements.length },
  });
  const started = Date.now();
  let current: ParsedStatement | undefined;
  try {
    for (const step of steps) {
      current = step.statement;
      if (step.statement) await capStatementTimeout(client, options.budget, statementTimeout, 'session');
      await client.query(step.sql);
    }
    current = undefined;
    await client.query('BEGIN');
    await recordApplied(client, m, options.executionId, Date.now() - started);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const invalidIndexes = await findInvalidIndexes(client, indexesBuilt(statements)).catch(() => []);
    const error = migrationError(m, m.file, current, err, {
      lockTimeout,
      partial: true,
      invalidIndexes,
      statements,
    });
    await recordFailure(client, m, options.executionId, error, 'up');
    throw error;
  } finally {
    for (const sql of SESSION_RESETS) await client.query(sql).catch(() => undefined);
  }
}

export interface DowngradeOptions extends TimeoutOptions {
  executionId: string;
  /** Revert this many applied migrations (newest first). @default 1 when toVersion is absent */
  steps?: number;
  /** Revert every applied migration above this version (it stays applied). */
  toVersion?: string;
  /** Return the SQL only; change nothing. */
  dryRun?: boolean;
  log?: Log;
  onProgress?: ProgressCallback;
  /** As ApplyOptions.budget. @default none */
  budget?: TimeBudget;
  /**
   * `steps` counts the reverts this execution id already recorded (the state machine: a downgrade that Lambda's
   * time budget stopped continues on Fargate without reverting more than asked). @default false
   */
  stepsIncludeEarlierReverts?: boolean;
}

export interface DowngradeResult {
  /** Reverted (or, in a dry run, to be reverted), newest first. */
  reverted: { version: string; name: string; durationMs?: number }[];
  sql: string;
  /** The same SQL per migration and statement. */
  scripts: PlannedScript[];
  dryRun: boolean;
}

/** Reverts applied migrations with their down scripts; refuses before touching anything if one is missing. */
export async function downgradeMigrations(
  client: ClientBase,
  migrations: Migration[],
  options: DowngradeOptions,
): Promise<DowngradeResult> {
  const log = options.log ?? silentLogger;
  await ensureParser();
  const files = new Map(migrations.map((m) => [m.version, m]));
  const choose = async () => {
    const applied = (await readAppliedMigrations(client)).sort((a, b) =>
      compareVersions(b.version, a.version),
    );
    if (options.toVersion !== undefined && options.steps !== undefined) {
      throw new MigrationFileError('downgrade: give either steps or toVersion, not both');
    }
    const earlier = options.stepsIncludeEarlierReverts ? await revertsBy(client, options.executionId) : 0;
    const targets =
      options.toVersion !== undefined
        ? applied.filter((a) => BigInt(a.version) > BigInt(options.toVersion as string))
        : applied.slice(0, Math.max(0, (options.steps ?? 1) - earlier));
    const problems = targets
      .map((a) => {
        const m = files.get(a.version);
        if (!m) return `version ${a.version} (${a.name}) has no migration file`;
        if (!m.down) return `${m.file} has no down migration`;
        if (m.checksum !== a.checksum) return `${m.file} changed since it was applied (checksum differs)`;
        return undefined;
      })
      .filter((p): p is string => p !== undefined);
    if (problems.length > 0) {
      throw new MigrationFileError(`Cannot downgrade: ${problems.join('; ')}. Nothing was reverted.`, {
        details: { problems },
      });
    }
    return targets.map((a) => files.get(a.version) as Migration);
  };
  const planned = (targets: Migration[]) =>
    targets.map((m) => planScript(m, m.down as MigrationScript, 'down', options));
  if (options.dryRun) {
    const targets = await choose();
    const scripts = planned(targets);
    return {
      reverted: targets.map((m) => ({ version: m.version, name: m.name })),
      sql: renderPlanSql('downgrade', scripts),
      scripts,
      dryRun: true,
    };
  }
  return withMigrationLock(client, async () => {
    await ensureHistoryTables(client);
    const targets = await choose();
    const reverted: DowngradeResult['reverted'] = [];
    for (const [i, m] of targets.entries()) {
      assertFitsBudget(options.budget, 'revert', reverted, targets.slice(i));
      options.onProgress?.({ index: i + 1, total: targets.length, version: m.version, name: m.name });
      log.info('reverting migration', { version: m.version, name: m.name });
      const started = Date.now();
      await revertOne(client, m, options);
      reverted.push({ version: m.version, name: m.name, durationMs: Date.now() - started });
    }
    const scripts = planned(targets);
    return { reverted, sql: renderPlanSql('downgrade', scripts), scripts, dryRun: false };
  });
}

/** Successful reverts recorded under this execution id. */
async function revertsBy(client: ClientBase, executionId: string): Promise<number> {
  if (!(await historyTablesExist(client))) return 0;
  const res = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${HISTORY_TABLE} WHERE event = 'down' AND status = 'succeeded' AND execution_id = $1`,
    [executionId],
  );
  return Number(res.rows[0].n);
}

async function revertOne(client: ClientBase, m: Migration, options: DowngradeOptions): Promise<void> {
  const down = m.down as MigrationScript;
  const file = down.path.split('/').pop() ?? m.file;
  const { steps, statements, lockTimeout, statementTimeout } = scriptSteps(m, down, options);
  const started = Date.now();
  let current: ParsedStatement | undefined;
  const bookkeeping = async () => {
    await client.query(`DELETE FROM ${MIGRATIONS_TABLE} WHERE version = $1`, [m.version]);
    await recordHistoryEvent(client, {
      event: 'down',
      status: 'succeeded',
      executionId: options.executionId,
      version: m.version,
      name: m.name,
      checksum: m.checksum,
      durationMs: Date.now() - started,
    });
  };
  try {
    for (const step of steps) {
      current = step.statement;
      if (step.statement) {
        await capStatementTimeout(
          client,
          options.budget,
          statementTimeout,
          down.noTransaction ? 'session' : 'local',
        );
      }
      await client.query(step.sql);
    }
    current = undefined;
    if (down.noTransaction) await client.query('BEGIN');
    await bookkeeping();
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const error =
      err instanceof PgshiftError
        ? err
        : migrationError(m, file, current, err, {
            lockTimeout,
            partial: down.noTransaction && (current?.index ?? 0) > 0,
            statements,
          });
    await recordFailure(client, m, options.executionId, error, 'down');
    throw error;
  } finally {
    if (down.noTransaction) {
      for (const sql of SESSION_RESETS) await client.query(sql).catch(() => undefined);
    }
  }
}
