/**
 * Canonical JSON: object keys sorted by code unit (never by locale, which differs between machines), `null` and
 * `undefined` fields dropped, arrays kept in the order the caller chose. Two equal values serialise to the
 * same bytes, which is what makes snapshots comparable byte for byte.
 */
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // The default sort compares UTF-16 code units, exactly like compareCodeUnits, and is faster without a callback.
    for (const key of Object.keys(value).sort()) {
      const v: unknown = Reflect.get(value, key);
      if (v === null || v === undefined) continue;
      out[key] = canonicalize(v);
    }
    return out;
  }
  return value;
}

/** JSON text of `canonicalize(value)`, indented, ending in a newline. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value), null, 2) + '\n';
}

/** Plain code-unit order, the same on every machine and in every locale. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
