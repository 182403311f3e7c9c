import { execFileSync } from 'node:child_process';
import { resolveCompression } from '../../lambdas/backup';
import { ConfigurationError, PgVersionMismatchError } from '../../lambdas/shared/errors';
import { assertToolNotOlder, parsePgVersion } from '../../lambdas/shared/pg-version';

describe('backup compression', () => {
  test('the default "1" is gzip level 1, spelled the way each pg_dump major understands', () => {
    expect(resolveCompression('1', 15, 15)).toMatchObject({ label: 'gzip:1', args: ['--compress=1'] });
    expect(resolveCompression('1', 17, 15)).toMatchObject({ label: 'gzip:1', args: ['--compress=gzip:1'] });
  });

  test('zstd and lz4 are used where pg_dump and server are 16+, and refused (not downgraded) below', () => {
    expect(resolveCompression('zstd:3', 16, 16)).toMatchObject({
      label: 'zstd:3',
      args: ['--compress=zstd:3'],
    });
    expect(resolveCompression('lz4', 17, 16)).toMatchObject({ label: 'lz4:1' });
    expect(() => resolveCompression('zstd', 16, 15)).toThrow(ConfigurationError);
    expect(() => resolveCompression('lz4:1', 15, 15)).toThrow(/needs pg_dump and server 16 or newer/);
  });

  test('"auto" picks zstd:1 on 16+ and gzip:1 otherwise; "none" and "0" turn compression off', () => {
    expect(resolveCompression('auto', 16, 16).label).toBe('zstd:1');
    expect(resolveCompression('auto', 16, 15).label).toBe('gzip:1');
    expect(resolveCompression('none', 15, 15)).toMatchObject({ label: 'none', args: ['--compress=0'] });
    expect(resolveCompression('0', 17, 17)).toMatchObject({ label: 'none', args: ['--compress=none'] });
    expect(resolveCompression('gzip:9', 15, 15).args).toEqual(['--compress=9']);
  });

  test.each(['fast', 'gzip:10', 'zstd:0', 'brotli:3', ''])('"%s" is a ConfigurationError', (setting) => {
    expect(() => resolveCompression(setting, 17, 17)).toThrow(ConfigurationError);
  });
});

describe('client tool version check', () => {
  test("the installed pg_dump's real --version passes against a server of the same major and fails against a newer one", () => {
    // Prepare: the real output of the installed pg_dump.
    const text = execFileSync('pg_dump', ['--version'], { encoding: 'utf8' }).trim();
    const tool = parsePgVersion(text);
    // Act / Assess
    expect(() => assertToolNotOlder('pg_dump', tool, parsePgVersion(`${tool.major}.2`))).not.toThrow();
    expect(() => assertToolNotOlder('pg_dump', tool, parsePgVersion(`${tool.major - 2}.9`))).not.toThrow();
    const err = (() => {
      try {
        assertToolNotOlder(
          'pg_dump',
          tool,
          parsePgVersion(`${tool.major + 2}.1 (Debian ${tool.major + 2}.1-1)`),
        );
      } catch (e) {
        return e as PgVersionMismatchError;
      }
      throw new Error('expected a PgVersionMismatchError');
    })();
    expect(err).toBeInstanceOf(PgVersionMismatchError);
    expect(err.message).toContain(tool.text);
    expect(err.message).toContain(`${tool.major + 2}.1`);
  });
});
