import { isRecord } from '../../shared/is-record';
import type { Severity } from '../types';

/**
 * pgshift's default severity for Squawk's rules (Squawk reports every rule as a warning). Errors: a statement
 * that rewrites a table, builds an index without CONCURRENTLY, holds ACCESS EXCLUSIVE for longer than a catalog
 * change, destroys data, or will fail as pgshift runs it. Everything else (style) is a warning.
 */
export const SQUAWK_DEFAULT_SEVERITY: Record<string, Severity> = {
  'adding-field-with-default': 'error',
  'adding-foreign-key-constraint': 'error',
  'adding-not-nullable-field': 'error',
  'adding-required-field': 'error',
  'adding-serial-primary-key-field': 'error',
  'ban-alter-domain-with-add-constraint': 'error',
  'ban-concurrent-index-creation-in-transaction': 'error',
  'ban-drop-column': 'error',
  'ban-drop-database': 'error',
  'ban-drop-table': 'error',
  'ban-truncate-cascade': 'error',
  'ban-uncommitted-transaction': 'error',
  'changing-column-type': 'error',
  'constraint-missing-not-valid': 'error',
  'disallowed-unique-constraint': 'error',
  'require-concurrent-index-creation': 'error',
  'transaction-nesting': 'error',
};

/**
 * Squawk rules about how long a lock is held on a table's rows: when the catalog shows every table the
 * statement touches is new or empty, the lock lasts as long as a catalog change and pgshift lowers them to
 * warnings. Data-destroying rules are never lowered.
 */
export const SQUAWK_LOCK_RULES = new Set([
  'adding-field-with-default',
  'adding-foreign-key-constraint',
  'adding-not-nullable-field',
  'adding-required-field',
  'adding-serial-primary-key-field',
  'changing-column-type',
  'constraint-missing-not-valid',
  'disallowed-unique-constraint',
  'require-concurrent-index-creation',
]);

/** Per-rule severity overrides (`"off"` drops the rule), e.g. from PGSHIFT_LINT_SEVERITIES. */
export type SeverityOverrides = Record<string, Severity | 'off'>;

/** Reads `{"prefer-text-field":"off","ban-drop-column":"warning"}`; anything else is a clear error. */
export function parseSeverityOverrides(json: string | undefined): SeverityOverrides {
  if (!json) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error('lint severities must be a JSON object such as {"prefer-text-field":"off"}');
  }
  if (!isRecord(value)) {
    throw new Error('lint severities must be a JSON object of rule id → "error" | "warning" | "off"');
  }
  const overrides: SeverityOverrides = {};
  for (const [rule, s] of Object.entries(value)) {
    if (s !== 'error' && s !== 'warning' && s !== 'off') {
      throw new Error(
        `lint severity of ${rule} must be "error", "warning" or "off", not ${JSON.stringify(s)}`,
      );
    }
    overrides[rule] = s;
  }
  return overrides;
}
