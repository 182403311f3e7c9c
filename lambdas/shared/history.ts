import type { ClientBase } from 'pg';
import { queryOneRow } from './db';

/**
 * pgshift's bookkeeping inside the target database, schema `pgshift`:
 * - `schema_migrations`: the migrations applied now, one row per version (what plan/verify compare files to);
 * - `history`: an append-only log of everything pgshift did to this database (applies, reverts, failures,
 *   baselines, restores, skipped pre-flight checks), which the report shows.
 * Both are created on first use (`ensureHistoryTables`), idempotently, so any step may call it.
 */
export const HISTORY_SCHEMA = 'pgshift';
export const MIGRATIONS_TABLE = `${HISTORY_SCHEMA}.schema_migrations`;
export const HISTORY_TABLE = `${HISTORY_SCHEMA}.history`;

/** The session setting that names the migrations bundle in use (`setBundleForSession`). */
export const BUNDLE_SETTING = 'pgshift.bundle_sha256';

export const HISTORY_DDL = `
CREATE SCHEMA IF NOT EXISTS ${HISTORY_SCHEMA};
CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (
  version      bigint PRIMARY KEY,
  name         text        NOT NULL,
  checksum     text        NOT NULL,
  applied_at   timestamptz NOT NULL DEFAULT now(),
  duration_ms  integer     NOT NULL DEFAULT 0,
  applied_by   text        NOT NULL,
  direction    text        NOT NULL DEFAULT 'up' CHECK (direction IN ('up', 'baseline'))
);
CREATE TABLE IF NOT EXISTS ${HISTORY_TABLE} (
  id            bigserial   PRIMARY KEY,
  event         text        NOT NULL,
  version       bigint,
  name          text,
  checksum      text,
  status        text        NOT NULL CONSTRAINT history_status_check
                              CHECK (status IN ('succeeded', 'failed', 'running')),
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  duration_ms   integer,
  execution_id  text        NOT NULL,
  db_user       text        NOT NULL DEFAULT current_user,
  error         text,
  details       jsonb       NOT NULL DEFAULT '{}'::jsonb
);
-- Added for migration bundles. Two statements so existing rows stay NULL (a column added WITH a default
-- would store the default, evaluated now, for every old row) and neither rewrites the table. The default
-- reads the session setting the migrate step sets (${BUNDLE_SETTING}): every event a run records names the
-- bundle its files came from, and NULL means the files deployed with the function.
ALTER TABLE ${HISTORY_TABLE} ADD COLUMN IF NOT EXISTS bundle_sha256 text;
ALTER TABLE ${HISTORY_TABLE}
  ALTER COLUMN bundle_sha256 SET DEFAULT NULLIF(current_setting('${BUNDLE_SETTING}', true), '');
-- 'running' added for no-transaction migrations (a committed "started" event, so a run whose client died is
-- found by the next run). Earlier tables have the narrower check, under the same name PostgreSQL gave it: it is
-- replaced only when it lacks 'running', NOT VALID since every old row satisfies the narrower one (no scan,
-- no rewrite).
DO $widen$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint
              WHERE conrelid = '${HISTORY_TABLE}'::regclass AND conname = 'history_status_check'
                AND pg_get_constraintdef(oid) NOT LIKE '%running%') THEN
    ALTER TABLE ${HISTORY_TABLE} DROP CONSTRAINT history_status_check;
    ALTER TABLE ${HISTORY_TABLE} ADD CONSTRAINT history_status_check
      CHECK (status IN ('succeeded', 'failed', 'running')) NOT VALID;
  END IF;
END
$widen$;
`;

/** What the history log records; migrate adds `up`/`down`/`baseline`, restore adds `restore`, and so on. */
export type HistoryEventKind = 'up' | 'down' | 'baseline' | 'restore' | 'preflight-skip' | 'cleanup';

/**
 * `running`: a no-transaction migration was started (recorded, committed, before its first statement); its
 * result follows as a later `succeeded`/`failed` event, or, when the client died, the next run records the
 * `failed` one (`interrupted: true` in details).
 */
export type HistoryStatus = 'succeeded' | 'failed' | 'running';

export interface HistoryEvent {
  event: HistoryEventKind;
  status: HistoryStatus;
  executionId: string;
  version?: number | string;
  name?: string;
  checksum?: string;
  startedAt?: Date;
  finishedAt?: Date;
  durationMs?: number;
  error?: string;
  details?: Record<string, unknown>;
}

export interface HistoryRow {
  id: number;
  event: HistoryEventKind;
  version: string | null;
  name: string | null;
  checksum: string | null;
  status: HistoryStatus;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
  executionId: string;
  dbUser: string;
  error: string | null;
  details: Record<string, unknown>;
  /** sha256 of the migrations bundle the run used; null for the files deployed with the function. */
  bundleSha256: string | null;
}

export interface AppliedMigration {
  version: string;
  name: string;
  checksum: string;
  appliedAt: string;
  durationMs: number;
  appliedBy: string;
  direction: 'up' | 'baseline';
}

/** Creates the pgshift schema and both tables when missing. Safe to run concurrently and repeatedly. */
export async function ensureHistoryTables(client: ClientBase): Promise<void> {
  // Two first runs racing on CREATE ... IF NOT EXISTS can still collide on the catalog; a transaction-level
  // advisory lock on a fixed key serialises just this bootstrap.
  await client.query('BEGIN');
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('pgshift.history-bootstrap'))");
    await client.query(HISTORY_DDL);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** True when this database has pgshift's tables (a report of a never-migrated database must not create them). */
export async function historyTablesExist(client: ClientBase): Promise<boolean> {
  const row = await queryOneRow<{ ok: boolean }>(
    client,
    `SELECT to_regclass($1) IS NOT NULL AND to_regclass($2) IS NOT NULL AS ok`,
    [MIGRATIONS_TABLE, HISTORY_TABLE],
  );
  return row.ok;
}

/** Appends one event; call inside the same transaction as the change it records where there is one. */
export async function recordHistoryEvent(client: ClientBase, e: HistoryEvent): Promise<void> {
  await client.query(
    `INSERT INTO ${HISTORY_TABLE}
       (event, version, name, checksum, status, started_at, finished_at, duration_ms, execution_id, error, details)
     VALUES ($1, $2, $3, $4, $5, COALESCE($6, now()),
             COALESCE($7, CASE WHEN $5::text = 'running' THEN NULL ELSE now() END), $8, $9, $10, $11)`,
    [
      e.event,
      e.version === undefined ? null : String(e.version),
      e.name ?? null,
      e.checksum ?? null,
      e.status,
      e.startedAt ?? null,
      e.finishedAt ?? null,
      e.durationMs ?? null,
      e.executionId,
      e.error ?? null,
      JSON.stringify(e.details ?? {}),
    ],
  );
}

/** The history log, newest first. Empty when pgshift never touched this database. */
export async function readHistory(client: ClientBase, limit = 200): Promise<HistoryRow[]> {
  if (!(await historyTablesExist(client))) return [];
  const res = await client.query<{
    id: string;
    event: HistoryEventKind;
    version: string | null;
    name: string | null;
    checksum: string | null;
    status: HistoryStatus;
    started_at: Date;
    finished_at: Date | null;
    duration_ms: number | null;
    execution_id: string;
    db_user: string;
    error: string | null;
    details: Record<string, unknown>;
    bundle_sha256: string | null;
  }>(
    // bundle_sha256 read through to_jsonb: an install whose tables predate the column (no migrate since the
    // upgrade) still gets its report, and reading never alters the tables.
    `SELECT id, event, version::text, name, checksum, status, started_at, finished_at, duration_ms, execution_id,
            db_user, error, details, to_jsonb(h) ->> 'bundle_sha256' AS bundle_sha256
       FROM ${HISTORY_TABLE} h ORDER BY id DESC LIMIT $1`,
    [limit],
  );
  return res.rows.map((r) => ({
    id: Number(r.id),
    event: r.event,
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    status: r.status,
    startedAt: new Date(r.started_at).toISOString(),
    finishedAt: r.finished_at ? new Date(r.finished_at).toISOString() : null,
    durationMs: r.duration_ms,
    executionId: r.execution_id,
    dbUser: r.db_user,
    error: r.error,
    details: r.details,
    bundleSha256: r.bundle_sha256 ?? null,
  }));
}

/** Orders version strings (digits, no leading zeros) as the numbers they are: "9" before "10". */
export function compareVersions(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Names the migrations bundle for the rest of this session: every history event recorded on this connection
 * gets it in `bundle_sha256` (the column's default), so the runner need not carry it. `null` clears it.
 */
export async function setBundleForSession(client: ClientBase, sha256: string | null): Promise<void> {
  await client.query('SELECT set_config($1, $2, false)', [BUNDLE_SETTING, sha256 ?? '']);
}

/** The applied set, in version order. Empty when pgshift never touched this database. */
export async function readAppliedMigrations(client: ClientBase): Promise<AppliedMigration[]> {
  if (!(await historyTablesExist(client))) return [];
  const res = await client.query<{
    version: string;
    name: string;
    checksum: string;
    applied_at: Date;
    duration_ms: number;
    applied_by: string;
    direction: AppliedMigration['direction'];
  }>(
    // Order by the bigint column, not the text output column of the same name ("10" < "9" as text).
    `SELECT m.version::text AS version, m.name, m.checksum, m.applied_at, m.duration_ms, m.applied_by, m.direction
       FROM ${MIGRATIONS_TABLE} m ORDER BY m.version`,
  );
  return res.rows.map((r) => ({
    version: r.version,
    name: r.name,
    checksum: r.checksum,
    appliedAt: new Date(r.applied_at).toISOString(),
    durationMs: r.duration_ms,
    appliedBy: r.applied_by,
    direction: r.direction,
  }));
}
