import { conninfoDbname, copyName, parseCopyName } from '../../lambdas/restore';

describe('restore copy names', () => {
  test('short names keep the plain <db>__pgshift_<kind>_<ts> form and parse back', () => {
    const name = copyName('shop', 'before', '20261125_101500');
    expect(name).toBe('shop__pgshift_before_20261125_101500');
    expect(parseCopyName('shop', name)).toMatchObject({ kind: 'before', timestamp: '20261125_101500' });
    expect(parseCopyName('shop', 'shop__pgshift_before_x')).toBeUndefined();
    expect(parseCopyName('shop2', name)).toBeUndefined();
  });

  test('long and multibyte names stay within 63 bytes, distinct, and still parse back', () => {
    const a = `${'ü'.repeat(25)}_a`;
    const b = `${'ü'.repeat(25)}_b`;
    const na = copyName(a, 'restore', '20261125_101500');
    expect(Buffer.byteLength(na)).toBeLessThanOrEqual(63);
    expect(na).not.toBe(copyName(b, 'restore', '20261125_101500'));
    expect(parseCopyName(a, na)?.kind).toBe('restore');
    expect(parseCopyName(b, na)).toBeUndefined();
  });

  test('conninfo quoting escapes quotes and backslashes so pg_restore never reads a name as options', () => {
    expect(conninfoDbname(`it's a\\b db=x`)).toBe(`dbname='it\\'s a\\\\b db=x'`);
  });
});
