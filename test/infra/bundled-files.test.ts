import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pinnedSquawkVersion, squawkBinary, SQUAWK_PACKAGE } from '../../lib/bundled-files';

/**
 * Synth on macOS/ARM: `npm ci` skips the optional @squawk-cli/linux-x64 there. Its absence is simulated by a
 * resolver that finds nothing; `npm pack` is pointed at the package folder this linux-x64 machine has, so the
 * fallback (pack, unpack, cache) runs for real without the network.
 */
describe('Squawk for the migrate bundle when npm skipped the linux-x64 package', () => {
  const installed = path.dirname(require.resolve(`${SQUAWK_PACKAGE}/package.json`));
  let cacheDir: string;
  beforeEach(() => {
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-squawk-cache-'));
  });
  afterEach(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

  test('the installed package is used when it has the pinned version', () => {
    expect(squawkBinary({ cacheDir })).toBe(path.join(installed, 'bin', 'squawk'));
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });

  test('without it, the pinned package is fetched with npm pack, unpacked into the cache and reused', () => {
    const bin = squawkBinary({ cacheDir, installedPackageDir: () => undefined, packSpec: installed });
    expect(bin.startsWith(cacheDir)).toBe(true);
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' })).toContain(pinnedSquawkVersion());
    // Cached: a second synth does not pack again (this spec would fail).
    const again = squawkBinary({
      cacheDir,
      installedPackageDir: () => undefined,
      packSpec: path.join(cacheDir, 'missing'),
    });
    expect(again).toBe(bin);
  });

  test('an installed package of another version is not used', () => {
    const other = fs.mkdtempSync(path.join(cacheDir, 'other-'));
    fs.writeFileSync(path.join(other, 'package.json'), JSON.stringify({ version: '0.0.1' }));
    const bin = squawkBinary({ cacheDir, installedPackageDir: () => other, packSpec: installed });
    expect(bin).toBe(
      path.join(cacheDir, `squawk-linux-x64-${pinnedSquawkVersion()}`, 'package', 'bin', 'squawk'),
    );
  });

  test('when npm pack fails too, the error says what is missing and what to do', () => {
    const missing = path.join(cacheDir, 'no-such-package');
    expect(() => squawkBinary({ cacheDir, installedPackageDir: () => undefined, packSpec: missing })).toThrow(
      new RegExp(
        `@squawk-cli/linux-x64@${pinnedSquawkVersion()} is not installed .*"npm pack ${missing}" failed.*` +
          'npm install --no-save --force',
        's',
      ),
    );
    expect(fs.readdirSync(cacheDir)).toEqual([]);
  });
});
