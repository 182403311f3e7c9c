/**
 * The value, or a test failure naming what is missing: an indexed read (`rows[0]`, `jobs.plan`, a regex group)
 * may be undefined under noUncheckedIndexedAccess, and a test that expects it says so here instead of `!`.
 */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`Expected ${what}, found none`);
  return value;
}
