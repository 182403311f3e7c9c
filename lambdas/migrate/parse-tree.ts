/**
 * Reading libpg-query's parse tree (plain JSON objects whose shape depends on the node kind) without casts:
 * every accessor checks what it finds and falls back to "absent", as the tree omits default-valued fields.
 */
import { isRecord } from '../shared/is-record';

/** The value when it is an object, else an empty one (an absent node reads as a node with no fields). */
export function record(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

/** The objects of a list field (absent or not a list: none). */
export function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter(isRecord) : [];
}

/** The field of a wrapped node, e.g. `unwrap(cmd.def, 'Constraint')` for `{ Constraint: {...} }`. */
export function unwrap(value: unknown, kind: string): Record<string, unknown> | undefined {
  const inner = record(value)[kind];
  return isRecord(inner) ? inner : undefined;
}

/** A string field, or undefined. */
export function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The names of a qualified-name list (`[{ String: { sval } }, ...]`); a missing part reads as ''. */
export function nameParts(value: unknown): string[] {
  return records(value).map((n) => text(unwrap(n, 'String')?.sval) ?? '');
}
