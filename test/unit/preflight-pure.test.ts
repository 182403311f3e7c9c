/**
 * Pre-flight's pure parts: thresholds from the environment, the image's pg_dump major, the lock conflict table,
 * cost estimates and the CLI's assertion. Everything that reads a database is in test/integration.
 */
import { LOCK_LEVELS } from '../../lambdas/shared/analysis';
import { ConfigurationError, PreflightFailedError } from '../../lambdas/shared/errors';
import {
  assertPreflightPassed,
  DEFAULT_THRESHOLDS,
  imagePgDumpVersion,
  thresholdEnvName,
  thresholdsFromEnv,
} from '../../lambdas/preflight';
import { estimateCosts } from '../../lambdas/preflight/estimate';
import { lockLevelFromPgLocksMode, locksConflict } from '../../lambdas/preflight/locks';

describe('thresholdsFromEnv', () => {
  test('reads each documented variable and ignores unrelated ones', () => {
    expect(
      thresholdsFromEnv({
        PGSHIFT_PREFLIGHT_DISK_SAFETY_FACTOR: '2',
        PGSHIFT_PREFLIGHT_LONG_TRANSACTION_SECONDS: '30',
        PGSHIFT_PREFLIGHT_BLOCKING_STATUS: 'warn',
        PGSHIFT_PREFLIGHT_SLOT_RETAINED_WAL_BYTES: '',
        PGSHIFT_BUCKET: 'b',
      }),
    ).toEqual({ diskSafetyFactor: 2, longTransactionSeconds: 30, blockingStatus: 'warn' });
  });

  test('every threshold has a variable of the documented shape', () => {
    expect(thresholdEnvName('rewriteBytesPerSecond')).toBe('PGSHIFT_PREFLIGHT_REWRITE_BYTES_PER_SECOND');
    const all = Object.fromEntries(
      Object.entries(DEFAULT_THRESHOLDS).map(([k, v]) => [
        thresholdEnvName(k as keyof typeof DEFAULT_THRESHOLDS),
        String(v),
      ]),
    );
    expect(thresholdsFromEnv(all)).toEqual(DEFAULT_THRESHOLDS);
  });

  test('lists every bad value and unknown variable in one ConfigurationError', () => {
    let caught: unknown;
    try {
      thresholdsFromEnv({
        PGSHIFT_PREFLIGHT_DISK_SAFETY_FACTOR: 'lots',
        PGSHIFT_PREFLIGHT_REWRITE_BYTES_PER_SECOND: '0',
        PGSHIFT_PREFLIGHT_BLOCKING_STATUS: 'ignore',
        PGSHIFT_PREFLIGHT_LONG_TRANSACTON_SECONDS: '5',
        PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTION_SECONDS: '-1',
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as ConfigurationError).details.problems).toEqual([
      'PGSHIFT_PREFLIGHT_DISK_SAFETY_FACTOR must be a non-negative number, not "lots"',
      'PGSHIFT_PREFLIGHT_REWRITE_BYTES_PER_SECOND must be greater than 0 (it divides or scales an estimate)',
      'PGSHIFT_PREFLIGHT_BLOCKING_STATUS must be "fail" or "warn", not "ignore"',
      expect.stringContaining('PGSHIFT_PREFLIGHT_LONG_TRANSACTON_SECONDS is not a pre-flight threshold'),
      'PGSHIFT_PREFLIGHT_IDLE_IN_TRANSACTION_SECONDS must be a non-negative number, not "-1"',
    ]);
  });
});

describe('imagePgDumpVersion', () => {
  test('reads the major from PGSHIFT_IMAGE_PG_MAJOR; unset is undefined; anything else is refused', () => {
    expect(imagePgDumpVersion({ PGSHIFT_IMAGE_PG_MAJOR: '16' })).toEqual({
      text: '16 (image PGSHIFT_IMAGE_PG_MAJOR)',
      major: 16,
      num: 160000,
    });
    expect(imagePgDumpVersion({})).toBeUndefined();
    expect(() => imagePgDumpVersion({ PGSHIFT_IMAGE_PG_MAJOR: '16.2' })).toThrow(ConfigurationError);
  });
});

describe('lock conflicts', () => {
  test("follow PostgreSQL's table: ACCESS EXCLUSIVE waits for everyone, ACCESS SHARE only for ACCESS EXCLUSIVE", () => {
    for (const held of LOCK_LEVELS) expect(locksConflict('ACCESS EXCLUSIVE', held)).toBe(true);
    expect(locksConflict('SHARE UPDATE EXCLUSIVE', 'ROW EXCLUSIVE')).toBe(false);
    expect(locksConflict('SHARE UPDATE EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE')).toBe(true);
    expect(locksConflict('SHARE', 'ROW EXCLUSIVE')).toBe(true);
    expect(locksConflict('ACCESS SHARE', 'EXCLUSIVE')).toBe(false);
    // The table is symmetric, as PostgreSQL's is.
    for (const a of LOCK_LEVELS)
      for (const b of LOCK_LEVELS) expect(locksConflict(a, b)).toBe(locksConflict(b, a));
  });

  test('pg_locks mode names map to lock levels; row-level and advisory modes do not', () => {
    expect(lockLevelFromPgLocksMode('ShareUpdateExclusiveLock')).toBe('SHARE UPDATE EXCLUSIVE');
    expect(lockLevelFromPgLocksMode('AccessExclusiveLock')).toBe('ACCESS EXCLUSIVE');
    expect(lockLevelFromPgLocksMode('SIReadLock')).toBeUndefined();
  });
});

describe('estimateCosts', () => {
  test('a rewrite costs table + indexes (plus as much WAL); an index build a fraction of the heap; a scan no disk', () => {
    const touch = { schema: 'public', lock: 'ACCESS EXCLUSIVE' as const, statementIndex: 0 };
    const costs = estimateCosts(
      [
        {
          version: '1',
          name: 'm',
          noTransaction: false,
          lockTimeout: '5s',
          statementTimeout: '15min',
          touches: [
            { ...touch, table: 'big', rewrite: true, indexBuild: false, fullScan: false },
            { ...touch, table: 'big', rewrite: false, indexBuild: true, fullScan: false, statementIndex: 1 },
            { ...touch, table: 'big', rewrite: false, indexBuild: false, fullScan: true, statementIndex: 2 },
            { ...touch, table: 'big', rewrite: false, indexBuild: false, fullScan: false, statementIndex: 3 },
          ],
        },
      ],
      [
        {
          schema: 'public',
          table: 'big',
          oid: 1,
          tableBytes: 1000,
          indexBytes: 200,
          measured: true,
          strongestLock: 'ACCESS EXCLUSIVE',
        },
      ],
      { ...DEFAULT_THRESHOLDS, rewriteBytesPerSecond: 100, scanBytesPerSecond: 500 },
    );
    expect(costs.map((c) => [c.kind, c.diskBytes, c.walBytes, c.seconds])).toEqual([
      ['rewrite', 1200, 1200, 12],
      ['index-build', 500, 500, 10],
      ['full-scan', 0, 0, 2],
    ]);
  });
});

describe('assertPreflightPassed', () => {
  test('throws PreflightFailedError naming each failed check; warn and skipped pass', () => {
    expect(() =>
      assertPreflightPassed({
        ok: true,
        checks: [
          { id: 'disk-space', status: 'skipped', message: 'no CloudWatch' },
          { id: 'connections', status: 'warn', message: 'busy' },
        ],
      }),
    ).not.toThrow();
    let caught: unknown;
    try {
      assertPreflightPassed({
        ok: false,
        checks: [
          { id: 'versions', status: 'fail', message: 'pg_dump 13 is older' },
          { id: 'connections', status: 'pass', message: 'ok' },
        ],
      });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(PreflightFailedError);
    expect((caught as PreflightFailedError).message).toBe(
      'Pre-flight failed (versions): versions: pg_dump 13 is older',
    );
    expect((caught as PreflightFailedError).outcome).toBe('refused');
  });
});
