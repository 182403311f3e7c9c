import { backupKey, manifestKeyFor, reportKeys, schemaKeys } from '../../lambdas/shared/keys';

test('backup keys keep the seed file name under a dated prefix', () => {
  const at = new Date(Date.UTC(2026, 0, 5, 3, 4, 5));
  expect(backupKey('app', at)).toBe('backups/app/2026/01/05/pg_backup_20260105_030405.dump');
  expect(backupKey('My DB/ü', at, 'custom/')).toBe(
    'custom/My DB%2Fü/2026/01/05/pg_backup_20260105_030405.dump',
  );
  expect(manifestKeyFor('backups/x.dump')).toBe('backups/x.dump.manifest.json');
});

test('schema and report keys follow the design layout', () => {
  expect(schemaKeys('app', 'exec-1', 'before')).toEqual({
    json: 'schemas/app/exec-1/before.json',
    sql: 'schemas/app/exec-1/before.sql',
  });
  expect(reportKeys('app', new Date(Date.UTC(2026, 10, 25, 6, 0, 0))).html).toBe(
    'reports/app/20261125_060000/report.html',
  );
});
