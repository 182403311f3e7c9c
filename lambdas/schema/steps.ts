import { withClient, type DatabaseTarget } from '../shared/db';
import { diffKeys, latestSchemaKey, schemaKeys } from '../shared/keys';
import type { Log } from '../shared/logger';
import { getJson, getText, isNotFound, putText, type ObjectStore } from '../shared/s3';
import { canonicalJson } from './canonical';
import { describeChange, diffSnapshots, type DiffCounts, type DiffOptions, type SchemaDiff } from './diff';
import { dumpSchemaSql } from './dump';
import { renderDiffMarkdown } from './render';
import {
  countObjects,
  serializeSnapshot,
  snapshotSchema,
  type ObjectKind,
  type SchemaSnapshot,
} from './snapshot';
import { unifiedSchemaDiff } from './unified';

/** What the schema steps need from their caller. */
export interface SchemaDeps {
  store: ObjectStore;
  log: Log;
  /** Environment for `pgToolPath` (PGSHIFT_PG_BIN). @default process.env */
  toolEnv?: NodeJS.ProcessEnv;
}

export interface RecordSnapshotOptions {
  target: DatabaseTarget;
  /** Logical database name for the keys. @default target.database */
  database?: string;
  executionId: string;
  phase: 'before' | 'after';
  includeOwnership?: boolean;
  /** Also write it as the latest known schema (after a successful migrate, downgrade or baseline). */
  updateLatest?: boolean;
}

export interface RecordedSnapshot {
  snapshot: SchemaSnapshot;
  objectCounts: Record<ObjectKind, number>;
  written: { json: string; sql: string; latest?: string };
}

/** Snapshot + `pg_dump --schema-only`, both to S3 (SSE-KMS) under `schemas/<db>/<execution>/<phase>.*`. */
export async function recordSchemaSnapshot(
  deps: SchemaDeps,
  o: RecordSnapshotOptions,
): Promise<RecordedSnapshot> {
  const database = o.database ?? o.target.database;
  const keys = schemaKeys(database, o.executionId, o.phase);
  const [snapshot, sql] = await Promise.all([
    withClient(
      o.target,
      (c) => snapshotSchema(c, { includeOwnership: o.includeOwnership, includeStats: true }),
      'pgshift-schema',
    ),
    dumpSchemaSql(o.target, { includeOwnership: o.includeOwnership, toolEnv: deps.toolEnv }),
  ]);
  const text = serializeSnapshot(snapshot);
  await Promise.all([
    putText(deps.store, keys.json, text, 'application/json'),
    putText(deps.store, keys.sql, sql, 'application/sql; charset=utf-8'),
  ]);
  const written: RecordedSnapshot['written'] = { json: keys.json, sql: keys.sql };
  if (o.updateLatest) {
    written.latest = latestSchemaKey(database);
    await putText(deps.store, written.latest, text, 'application/json');
  }
  const objectCounts = countObjects(snapshot);
  deps.log.info('schema snapshot written', { database, phase: o.phase, keys: written, objectCounts });
  return { snapshot, objectCounts, written };
}

export interface StoredDiffOptions extends Pick<DiffOptions, 'largeTableBytes'> {
  database: string;
  executionId: string;
  before: { json: string; sql?: string };
  after: { json: string; sql?: string };
}

export interface StoredDiff {
  diff: SchemaDiff;
  written: { json: string; markdown: string; patch: string };
}

/** Reads two stored snapshots, diffs them, writes diff.json / diff.md / diff.patch. */
export async function diffStoredSnapshots(deps: SchemaDeps, o: StoredDiffOptions): Promise<StoredDiff> {
  const [before, after, sqlBefore, sqlAfter] = await Promise.all([
    getJson<SchemaSnapshot>(deps.store, o.before.json),
    getJson<SchemaSnapshot>(deps.store, o.after.json),
    o.before.sql ? getText(deps.store, o.before.sql) : Promise.resolve(''),
    o.after.sql ? getText(deps.store, o.after.sql) : Promise.resolve(''),
  ]);
  const diff = diffSnapshots(before, after, { largeTableBytes: o.largeTableBytes });
  const keys = diffKeys(o.database, o.executionId);
  await Promise.all([
    putText(deps.store, keys.json, canonicalJson(diff), 'application/json'),
    putText(deps.store, keys.md, renderDiffMarkdown(diff), 'text/markdown; charset=utf-8'),
    putText(deps.store, keys.patch, unifiedSchemaDiff(sqlBefore, sqlAfter), 'text/x-diff; charset=utf-8'),
  ]);
  deps.log.info('schema diff written', { database: o.database, counts: diff.counts });
  return { diff, written: { json: keys.json, markdown: keys.md, patch: keys.patch } };
}

export interface DriftResult {
  /** False when the live schema differs from the recorded one. */
  ok: boolean;
  /** False when nothing was recorded yet (no successful migrate/baseline through pgshift): nothing to compare. */
  checked: boolean;
  recordedKey: string;
  counts: DiffCounts;
  /** One line per change, at most `maxSummary` of them. */
  summary: string[];
  diff?: SchemaDiff;
}

export interface DetectDriftOptions {
  target: DatabaseTarget;
  database?: string;
  /** Lines in `summary`. @default 20 */
  maxSummary?: number;
  largeTableBytes?: number;
}

/**
 * Compares the live schema with the snapshot recorded after the last successful migration
 * (`schemas/<db>/latest.json`). Drift is a result, not an error: the caller decides (verify fails on it).
 */
export async function detectDrift(deps: SchemaDeps, o: DetectDriftOptions): Promise<DriftResult> {
  const database = o.database ?? o.target.database;
  const recordedKey = latestSchemaKey(database);
  let recorded: SchemaSnapshot;
  try {
    recorded = await getJson<SchemaSnapshot>(deps.store, recordedKey);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    deps.log.warn('no recorded schema to compare with; drift not checked', { database, recordedKey });
    return {
      ok: true,
      checked: false,
      recordedKey,
      counts: { total: 0, destructive: 0, locking: 0, safe: 0 },
      summary: ['No schema recorded after a successful migration yet: drift not checked.'],
    };
  }
  const live = await withClient(
    o.target,
    (c) =>
      snapshotSchema(c, {
        includeOwnership: recorded.options?.includeOwnership === true,
        includeStats: true,
      }),
    'pgshift-schema',
  );
  const diff = diffSnapshots(recorded, live, {
    largeTableBytes: o.largeTableBytes,
    sizes: live.stats?.tables,
  });
  const max = o.maxSummary ?? 20;
  const summary = diff.changes.slice(0, max).map(describeChange);
  if (diff.changes.length > max) summary.push(`… and ${diff.changes.length - max} more`);
  if (diff.counts.total > 0) deps.log.warn('schema drift detected', { database, counts: diff.counts });
  return { ok: diff.counts.total === 0, checked: true, recordedKey, counts: diff.counts, summary, diff };
}
