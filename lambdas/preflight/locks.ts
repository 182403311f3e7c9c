import { LOCK_LEVELS, type LockLevel } from '../shared/analysis';

/** PostgreSQL's table-level lock conflict table (docs: "Explicit Locking", Table 13.2), by requested mode. */
const CONFLICTS: Record<LockLevel, readonly LockLevel[]> = {
  'ACCESS SHARE': ['ACCESS EXCLUSIVE'],
  'ROW SHARE': ['EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'ROW EXCLUSIVE': ['SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE UPDATE EXCLUSIVE': [
    'SHARE UPDATE EXCLUSIVE',
    'SHARE',
    'SHARE ROW EXCLUSIVE',
    'EXCLUSIVE',
    'ACCESS EXCLUSIVE',
  ],
  SHARE: ['ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'],
  'SHARE ROW EXCLUSIVE': [
    'ROW EXCLUSIVE',
    'SHARE UPDATE EXCLUSIVE',
    'SHARE',
    'SHARE ROW EXCLUSIVE',
    'EXCLUSIVE',
    'ACCESS EXCLUSIVE',
  ],
  EXCLUSIVE: LOCK_LEVELS.filter((l) => l !== 'ACCESS SHARE'),
  'ACCESS EXCLUSIVE': LOCK_LEVELS,
};

/** True when a session holding `held` makes a request for `requested` wait. */
export function locksConflict(requested: LockLevel, held: LockLevel): boolean {
  return CONFLICTS[requested].includes(held);
}

/** `RowExclusiveLock` (pg_locks.mode) → `ROW EXCLUSIVE`; undefined for non-table modes. */
export function lockLevelFromPgLocksMode(mode: string): LockLevel | undefined {
  const words = mode.replace(/Lock$/, '').replace(/([a-z])([A-Z])/g, '$1 $2');
  const level = words.toUpperCase();
  return LOCK_LEVELS.find((known) => known === level);
}

/** The stronger of two lock levels. */
export function strongerLock(a: LockLevel, b: LockLevel): LockLevel {
  return LOCK_LEVELS.indexOf(a) >= LOCK_LEVELS.indexOf(b) ? a : b;
}
