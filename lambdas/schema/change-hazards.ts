import { formatBytes } from '../shared/format';
import type { Hazard } from './hazards';
import type { ObjectKind } from './model';
import { classifyTypeChange, parseFormattedType } from './type-change';

export interface AttributeChange {
  attribute: string;
  before: unknown;
  after: unknown;
}

/** Drops of these lose data or code that something depends on. */
const DESTRUCTIVE_DROPS = new Set<ObjectKind>([
  'schema',
  'extension',
  'table',
  'column',
  'function',
  'sequence',
  'enum',
  'domain',
  'composite_type',
  'materialized_view',
]);
/** Changes to these lock the table they belong to. */
export const TABLE_SCOPED = new Set<ObjectKind>(['column', 'constraint', 'index', 'trigger', 'policy']);
/** Attributes whose change needs no lock beyond a catalog update. */
const METADATA_ONLY = new Set(['comment', 'owner', 'acl']);
const STRING_TYPES = new Set(['character varying', 'character', 'text']);

/** Where a change happens and how large its table is (undefined: not table-scoped, or size unknown). */
export interface ChangeSite {
  kind: ObjectKind;
  table: string | undefined;
  tableBytes: number | undefined;
  largeTableBytes: number;
}

function isLarge(site: ChangeSite): site is ChangeSite & { table: string; tableBytes: number } {
  return site.table !== undefined && site.tableBytes !== undefined && site.tableBytes >= site.largeTableBytes;
}

/** The lock a table-scoped change takes, when its table is large; none on a small or unknown one. */
function lockHazards(site: ChangeSite, change: 'added' | 'removed' | 'altered'): Hazard[] {
  if (!isLarge(site)) return [];
  const detail = `${site.table} is large (${formatBytes(site.tableBytes)})`;
  if (site.kind === 'index' && change === 'added') return [{ kind: 'builds-index', detail }];
  return [{ kind: 'access-exclusive-lock', detail }];
}

export function addedHazards(site: ChangeSite): Hazard[] {
  return TABLE_SCOPED.has(site.kind) ? lockHazards(site, 'added') : [];
}

export function removedHazards(site: ChangeSite): Hazard[] {
  if (DESTRUCTIVE_DROPS.has(site.kind))
    return [
      { kind: 'deletes-data', detail: `dropping a ${site.kind.replace('_', ' ')} loses it and its data` },
    ];
  return TABLE_SCOPED.has(site.kind) ? lockHazards(site, 'removed') : [];
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** Items of a list attribute (enum labels, composite attributes by name) that the change removes. */
function lostItems(change: AttributeChange | undefined, key: (item: string) => string): string[] {
  if (!change) return [];
  const kept = new Set(stringList(change.after).map(key));
  return stringList(change.before).filter((item) => !kept.has(key(item)));
}

/** A type change PostgreSQL does by rewriting the table: any change of base type outside the string family. */
function rewritesOnTypeChange(before: string, after: string): boolean {
  const from = parseFormattedType(before);
  const to = parseFormattedType(after);
  if (from.array !== to.array) return true;
  if (from.base === to.base) return false;
  return !(STRING_TYPES.has(from.base) && STRING_TYPES.has(to.base));
}

function dataLossHazards(kind: ObjectKind, attributes: AttributeChange[]): Hazard[] {
  const attr = (n: string): AttributeChange | undefined => attributes.find((a) => a.attribute === n);
  const typeChange = attr(kind === 'domain' ? 'baseType' : 'type');
  if ((kind === 'column' || kind === 'domain') && typeChange) {
    const [from, to] = [String(typeChange.before), String(typeChange.after)];
    if (classifyTypeChange(from, to) === 'narrowing')
      return [
        {
          kind: 'deletes-data',
          detail: `type ${from} → ${to} can lose data (narrowing or unproven conversion)`,
        },
      ];
  }
  if (kind === 'enum') {
    const lost = lostItems(attr('labels'), (l) => l);
    if (lost.length > 0)
      return [
        { kind: 'deletes-data', detail: `enum labels removed: ${lost.join(', ')} (rows using them break)` },
      ];
  }
  if (kind === 'composite_type') {
    const lost = lostItems(attr('attributes'), (f) => f.split(' ')[0] ?? f);
    if (lost.length > 0) return [{ kind: 'deletes-data', detail: `attributes removed: ${lost.join(', ')}` }];
  }
  return [];
}

/** Hazards of an altered object: data it can lose, else the lock (and rewrite) on a large table. */
export function alteredHazards(site: ChangeSite, attributes: AttributeChange[]): Hazard[] {
  const lost = dataLossHazards(site.kind, attributes);
  const structural = attributes.filter((a) => !METADATA_ONLY.has(a.attribute));
  const tableLevel = site.kind === 'table' || TABLE_SCOPED.has(site.kind);
  if (!tableLevel || structural.length === 0 || !isLarge(site)) return lost;
  const type = site.kind === 'column' ? structural.find((a) => a.attribute === 'type') : undefined;
  const rewrite =
    type && rewritesOnTypeChange(String(type.before), String(type.after))
      ? [{ kind: 'rewrites-table' as const, detail: `type ${String(type.before)} → ${String(type.after)}` }]
      : [];
  return [...lost, ...lockHazards(site, 'altered'), ...rewrite];
}
