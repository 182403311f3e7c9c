import { LOCK_LEVELS, type LockLevel, type TableTouch } from '../../shared/analysis';
import { nameParts, record, records, text, unwrap } from '../parse-tree';
import { nodeKind } from '../statements';
import type { ParsedStatement } from '../types';

/** A table as the statement names it; `schema` is undefined when unqualified (resolved later via search_path). */
export interface TableRef {
  schema?: string;
  table: string;
}

/** What one statement does to one table, before catalog sizes are added. */
export type StatementTouch = Omit<TableTouch, 'schema' | 'sizeBytes' | 'indexBytes' | 'estimatedRows'> & {
  schema?: string;
  /** The table is created by this very migration (so it is empty and nobody else holds it yet). */
  createdHere?: boolean;
};

/** One touch of a table, before the table's name is attached. */
type Touch = Omit<StatementTouch, 'schema' | 'table' | 'statementIndex'>;

/** Functions whose value differs per row: as a column default they force a table rewrite. */
const VOLATILE_FUNCTIONS = new Set([
  'random',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v4',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'txid_current',
]);
const SERIAL_TYPES = new Set(['serial', 'serial4', 'serial8', 'bigserial', 'smallserial', 'serial2']);

export function strongerLock(a: LockLevel, b: LockLevel): LockLevel {
  return LOCK_LEVELS.indexOf(a) >= LOCK_LEVELS.indexOf(b) ? a : b;
}

function rangeVar(v: unknown): TableRef | undefined {
  const r = record(v);
  const table = text(r.relname);
  return table ? { schema: text(r.schemaname), table } : undefined;
}

/** Every value under `obj` stored at `key` (depth-first). */
export function findAll(obj: unknown, key: string, out: unknown[] = []): unknown[] {
  if (Array.isArray(obj)) for (const v of obj) findAll(v, key, out);
  else if (obj && typeof obj === 'object') {
    for (const [k, v] of Object.entries(obj)) {
      if (k === key) out.push(v);
      findAll(v, key, out);
    }
  }
  return out;
}

function funcNames(expr: unknown): string[] {
  return findAll(expr, 'FuncCall').map((f) => nameParts(record(f).funcname).at(-1) ?? '');
}

function typeName(def: Record<string, unknown>): string {
  return nameParts(record(def.typeName).names).at(-1) ?? '';
}

interface ColumnInfo {
  notNull: boolean;
  hasDefault: boolean;
  volatileDefault: boolean;
  storedGenerated: boolean;
  serial: boolean;
}

/** What a ColumnDef says about nullability and defaults. */
export function columnInfo(def: Record<string, unknown>): ColumnInfo {
  const constraints = records(def.constraints).map((c) => unwrap(c, 'Constraint') ?? {});
  const defaults = constraints.filter((c) => c.contype === 'CONSTR_DEFAULT');
  const serial = SERIAL_TYPES.has(typeName(def));
  return {
    notNull: constraints.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY'),
    hasDefault: defaults.length > 0 || serial || constraints.some((c) => c.contype === 'CONSTR_IDENTITY'),
    volatileDefault:
      serial ||
      constraints.some((c) => c.contype === 'CONSTR_IDENTITY') ||
      defaults.some((c) => funcNames(c.raw_expr).some((n) => VOLATILE_FUNCTIONS.has(n))),
    storedGenerated: constraints.some((c) => c.contype === 'CONSTR_GENERATED'),
    serial,
  };
}

/** Lock, rewrite, scan and index build of one ALTER TABLE subcommand. */
function alterTableCmd(cmd: Record<string, unknown>): Touch {
  const base: Touch = { lock: 'ACCESS EXCLUSIVE', rewrite: false, indexBuild: false, fullScan: false };
  const def = unwrap(cmd.def, 'ColumnDef');
  const constraint = unwrap(cmd.def, 'Constraint');
  switch (cmd.subtype) {
    case 'AT_AddColumn': {
      const info = def ? columnInfo(def) : undefined;
      return { ...base, rewrite: Boolean(info && (info.volatileDefault || info.storedGenerated)) };
    }
    case 'AT_AlterColumnType':
      return { ...base, rewrite: true };
    case 'AT_SetNotNull':
      return { ...base, fullScan: true };
    case 'AT_ValidateConstraint':
      return { ...base, lock: 'SHARE UPDATE EXCLUSIVE', fullScan: true };
    case 'AT_AddConstraint': {
      const notValid = constraint?.skip_validation === true;
      if (constraint?.contype === 'CONSTR_FOREIGN') {
        return { ...base, lock: 'SHARE ROW EXCLUSIVE', fullScan: !notValid };
      }
      if (constraint?.contype === 'CONSTR_PRIMARY' || constraint?.contype === 'CONSTR_UNIQUE') {
        return { ...base, indexBuild: !constraint.indexname, fullScan: !constraint.indexname };
      }
      if (constraint?.contype === 'CONSTR_EXCLUSION') return { ...base, indexBuild: true, fullScan: true };
      return { ...base, fullScan: !notValid };
    }
    case 'AT_SetStatistics':
    case 'AT_SetOptions':
    case 'AT_ResetOptions':
    case 'AT_SetRelOptions':
    case 'AT_ResetRelOptions':
    case 'AT_ClusterOn':
    case 'AT_DropCluster':
      return { ...base, lock: 'SHARE UPDATE EXCLUSIVE' };
    case 'AT_EnableTrig':
    case 'AT_DisableTrig':
    case 'AT_EnableTrigAll':
    case 'AT_DisableTrigAll':
      return { ...base, lock: 'SHARE ROW EXCLUSIVE' };
    case 'AT_SetTableSpace':
    case 'AT_SetLogged':
    case 'AT_SetUnLogged':
      return { ...base, rewrite: true };
    default:
      return base;
  }
}

/** What a statement does to one table it names (`ref` undefined: a name pgshift could not read). */
interface TableTouchOf {
  ref: TableRef | undefined;
  touch: Touch;
}

const NONE = { rewrite: false, indexBuild: false, fullScan: false };

function locks(ref: TableRef | undefined, lock: LockLevel, more: Partial<Touch> = {}): TableTouchOf {
  return { ref, touch: { ...NONE, lock, ...more } };
}

/** A foreign key takes SHARE ROW EXCLUSIVE on the table it references. */
function referenced(constraint: Record<string, unknown> | undefined): TableTouchOf[] {
  return constraint?.contype === 'CONSTR_FOREIGN'
    ? [locks(rangeVar(constraint.pktable), 'SHARE ROW EXCLUSIVE')]
    : [];
}

function createTable(body: Record<string, unknown>, created: Set<string>): TableTouchOf[] {
  const ref = rangeVar(body.relation);
  if (ref) created.add(tableKey(ref));
  return findAll(body, 'Constraint').flatMap((c) => referenced(record(c)));
}

function alterTable(body: Record<string, unknown>): TableTouchOf[] {
  if (body.objtype !== undefined && body.objtype !== 'OBJECT_TABLE') return [];
  const ref = rangeVar(body.relation);
  return records(body.cmds).flatMap((wrapped) => {
    const cmd = unwrap(wrapped, 'AlterTableCmd') ?? {};
    return [{ ref, touch: alterTableCmd(cmd) }, ...referenced(unwrap(cmd.def, 'Constraint'))];
  });
}

function dropTables(body: Record<string, unknown>): TableTouchOf[] {
  if (body.removeType !== 'OBJECT_TABLE') return [];
  return records(body.objects).flatMap((obj) => {
    const parts = nameParts(unwrap(obj, 'List')?.items);
    const table = parts.at(-1);
    if (!table) return [];
    return [locks({ schema: parts.length > 1 ? parts.at(-2) : undefined, table }, 'ACCESS EXCLUSIVE')];
  });
}

function vacuum(body: Record<string, unknown>): TableTouchOf[] {
  const full = findAll(body.options, 'defname').includes('full');
  return findAll(body.rels, 'relation').map((r) =>
    full
      ? locks(rangeVar(r), 'ACCESS EXCLUSIVE', { rewrite: true })
      : locks(rangeVar(r), 'SHARE UPDATE EXCLUSIVE', { fullScan: true }),
  );
}

function rangeVars(list: unknown): (TableRef | undefined)[] {
  return records(list).map((r) => rangeVar(r.RangeVar));
}

/** LOCK TABLE's mode is 1..8 in PostgreSQL's order (AccessShareLock = 1). */
function lockTables(body: Record<string, unknown>): TableTouchOf[] {
  const mode = LOCK_LEVELS[Math.max(0, Math.min(7, Number(body.mode ?? 8) - 1))] ?? 'ACCESS EXCLUSIVE';
  return rangeVars(body.relations).map((ref) => locks(ref, mode));
}

/** Per statement kind, the tables it touches; kinds not listed touch none pgshift measures. */
const TOUCHES_BY_KIND: Record<
  string,
  (body: Record<string, unknown>, created: Set<string>) => TableTouchOf[]
> = {
  CreateStmt: createTable,
  IndexStmt: (body) => [
    locks(rangeVar(body.relation), body.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE', {
      indexBuild: true,
      fullScan: true,
    }),
  ],
  AlterTableStmt: alterTable,
  RenameStmt: (body) =>
    body.renameType === 'OBJECT_TABLE' || body.renameType === 'OBJECT_COLUMN'
      ? [locks(rangeVar(body.relation), 'ACCESS EXCLUSIVE')]
      : [],
  DropStmt: dropTables,
  TruncateStmt: (body) => rangeVars(body.relations).map((ref) => locks(ref, 'ACCESS EXCLUSIVE')),
  VacuumStmt: vacuum,
  ClusterStmt: (body) => [locks(rangeVar(body.relation), 'ACCESS EXCLUSIVE', { rewrite: true })],
  UpdateStmt: (body) => [
    locks(rangeVar(body.relation), 'ROW EXCLUSIVE', { fullScan: body.whereClause === undefined }),
  ],
  DeleteStmt: (body) => [
    locks(rangeVar(body.relation), 'ROW EXCLUSIVE', { fullScan: body.whereClause === undefined }),
  ],
  InsertStmt: (body) => [locks(rangeVar(body.relation), 'ROW EXCLUSIVE')],
  CreateTrigStmt: (body) => [locks(rangeVar(body.relation), 'SHARE ROW EXCLUSIVE')],
  LockStmt: lockTables,
};

/**
 * The tables a statement touches and the strongest lock it takes on each (PostgreSQL's documented lock levels,
 * "Explicit Locking" and each command's reference page). `created` holds tables created earlier in the same
 * migration, which are new and empty. Several touches of one table merge into the strongest.
 */
export function statementTouches(stmt: ParsedStatement, created: Set<string>): StatementTouch[] {
  const { kind, body } = nodeKind(stmt.node);
  const touchesOf = Object.hasOwn(TOUCHES_BY_KIND, kind) ? TOUCHES_BY_KIND[kind] : undefined;
  const touches: StatementTouch[] = [];
  for (const { ref, touch: t } of touchesOf?.(body, created) ?? []) {
    if (!ref) continue;
    const key = tableKey(ref);
    const existing = touches.find((x) => tableKey(x) === key);
    if (existing) {
      existing.lock = strongerLock(existing.lock, t.lock);
      existing.rewrite ||= t.rewrite;
      existing.indexBuild ||= t.indexBuild;
      existing.fullScan ||= t.fullScan;
      continue;
    }
    touches.push({ ...ref, ...t, statementIndex: stmt.index, createdHere: created.has(key) || undefined });
  }
  return touches;
}

export function tableKey(ref: TableRef): string {
  return `${ref.schema ?? ''}.${ref.table}`;
}
