import { LOCK_LEVELS, type LockLevel, type TableTouch } from '../../shared/analysis';
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
  const r = v as { schemaname?: string; relname?: string } | undefined;
  return r?.relname ? { schema: r.schemaname, table: r.relname } : undefined;
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
  return findAll(expr, 'FuncCall').map((f) => {
    const names = (f as { funcname?: { String?: { sval?: string } }[] }).funcname ?? [];
    return names[names.length - 1]?.String?.sval ?? '';
  });
}

function typeName(def: Record<string, unknown>): string {
  const names = ((def.typeName as { names?: { String?: { sval?: string } }[] })?.names ?? []).map(
    (n) => n.String?.sval ?? '',
  );
  return names[names.length - 1] ?? '';
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
  const constraints = ((def.constraints as { Constraint?: Record<string, unknown> }[]) ?? []).map(
    (c) => c.Constraint ?? {},
  );
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
function alterTableCmd(
  cmd: Record<string, unknown>,
): Omit<StatementTouch, 'schema' | 'table' | 'statementIndex'> {
  const base = { lock: 'ACCESS EXCLUSIVE' as LockLevel, rewrite: false, indexBuild: false, fullScan: false };
  const def = ((cmd.def ?? {}) as Record<string, unknown>).ColumnDef as Record<string, unknown> | undefined;
  const constraint = ((cmd.def ?? {}) as Record<string, unknown>).Constraint as
    Record<string, unknown> | undefined;
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

/**
 * The tables a statement touches and the strongest lock it takes on each (PostgreSQL's documented lock levels,
 * "Explicit Locking" and each command's reference page). `created` holds tables created earlier in the same
 * migration, which are new and empty.
 */
export function statementTouches(stmt: ParsedStatement, created: Set<string>): StatementTouch[] {
  const { kind, body } = nodeKind(stmt.node);
  const touches: StatementTouch[] = [];
  const add = (ref: TableRef | undefined, t: Omit<StatementTouch, 'schema' | 'table' | 'statementIndex'>) => {
    if (!ref) return;
    const key = tableKey(ref);
    const existing = touches.find((x) => tableKey(x) === key);
    if (existing) {
      existing.lock = strongerLock(existing.lock, t.lock);
      existing.rewrite ||= t.rewrite;
      existing.indexBuild ||= t.indexBuild;
      existing.fullScan ||= t.fullScan;
      return;
    }
    touches.push({ ...ref, ...t, statementIndex: stmt.index, createdHere: created.has(key) || undefined });
  };
  const none = { rewrite: false, indexBuild: false, fullScan: false };
  switch (kind) {
    case 'CreateStmt': {
      const ref = rangeVar(body.relation);
      if (ref) created.add(tableKey(ref));
      // A foreign key takes SHARE ROW EXCLUSIVE on the table it references.
      for (const c of findAll(body, 'Constraint') as Record<string, unknown>[]) {
        if (c.contype === 'CONSTR_FOREIGN')
          add(rangeVar(c.pktable), { ...none, lock: 'SHARE ROW EXCLUSIVE' });
      }
      break;
    }
    case 'IndexStmt':
      add(rangeVar(body.relation), {
        ...none,
        lock: body.concurrent ? 'SHARE UPDATE EXCLUSIVE' : 'SHARE',
        indexBuild: true,
        fullScan: true,
      });
      break;
    case 'AlterTableStmt': {
      if (body.objtype !== undefined && body.objtype !== 'OBJECT_TABLE') break;
      const ref = rangeVar(body.relation);
      for (const wrapped of (body.cmds as { AlterTableCmd?: Record<string, unknown> }[]) ?? []) {
        const cmd = wrapped.AlterTableCmd ?? {};
        add(ref, alterTableCmd(cmd));
        const c = ((cmd.def ?? {}) as Record<string, unknown>).Constraint as
          Record<string, unknown> | undefined;
        if (c?.contype === 'CONSTR_FOREIGN')
          add(rangeVar(c.pktable), { ...none, lock: 'SHARE ROW EXCLUSIVE' });
      }
      break;
    }
    case 'RenameStmt':
      if (body.renameType === 'OBJECT_TABLE' || body.renameType === 'OBJECT_COLUMN') {
        add(rangeVar(body.relation), { ...none, lock: 'ACCESS EXCLUSIVE' });
      }
      break;
    case 'DropStmt':
      if (body.removeType === 'OBJECT_TABLE') {
        for (const obj of (body.objects as { List?: { items?: { String?: { sval?: string } }[] } }[]) ?? []) {
          const parts = (obj.List?.items ?? []).map((i) => i.String?.sval ?? '');
          const table = parts[parts.length - 1];
          if (table)
            add(
              { schema: parts.length > 1 ? parts[parts.length - 2] : undefined, table },
              { ...none, lock: 'ACCESS EXCLUSIVE' },
            );
        }
      }
      break;
    case 'TruncateStmt':
      for (const r of (body.relations as { RangeVar?: unknown }[]) ?? [])
        add(rangeVar(r.RangeVar), { ...none, lock: 'ACCESS EXCLUSIVE' });
      break;
    case 'VacuumStmt': {
      const full = findAll(body.options, 'defname').includes('full');
      for (const r of findAll(body.rels, 'relation')) {
        add(
          rangeVar(r),
          full
            ? { ...none, lock: 'ACCESS EXCLUSIVE', rewrite: true }
            : { ...none, lock: 'SHARE UPDATE EXCLUSIVE', fullScan: true },
        );
      }
      break;
    }
    case 'ClusterStmt':
      add(rangeVar(body.relation), { ...none, lock: 'ACCESS EXCLUSIVE', rewrite: true });
      break;
    case 'UpdateStmt':
    case 'DeleteStmt':
      add(rangeVar(body.relation), {
        ...none,
        lock: 'ROW EXCLUSIVE',
        fullScan: body.whereClause === undefined,
      });
      break;
    case 'InsertStmt':
      add(rangeVar(body.relation), { ...none, lock: 'ROW EXCLUSIVE' });
      break;
    case 'CreateTrigStmt':
      add(rangeVar(body.relation), { ...none, lock: 'SHARE ROW EXCLUSIVE' });
      break;
    case 'LockStmt': {
      const mode = LOCK_LEVELS[Math.max(0, Math.min(7, Number(body.mode ?? 8) - 1))];
      for (const r of (body.relations as { RangeVar?: unknown }[]) ?? [])
        add(rangeVar(r.RangeVar), { ...none, lock: mode });
      break;
    }
    default:
      break;
  }
  return touches;
}

export function tableKey(ref: TableRef): string {
  return `${ref.schema ?? ''}.${ref.table}`;
}
