/**
 * Canonical JSON: object keys sorted by code unit (never by locale, which differs between machines), `null` and
 * `undefined` fields dropped, arrays kept in the order the caller chose. Two equal values serialise to the
 * same bytes, which is what makes snapshots comparable byte for byte.
 */
export function canonicalize<T>(value: T): T;
// The overload keeps the caller's type: the value has the same shape, with its null and undefined fields absent.
export function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v: unknown) => canonicalize(v));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    // Code-unit order (never locale order), so every machine writes the same bytes.
    const entries: [string, unknown][] = Object.entries(value);
    for (const [key, v] of entries.sort(([a], [b]) => compareCodeUnits(a, b))) {
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
