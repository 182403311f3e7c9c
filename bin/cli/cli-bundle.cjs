'use strict';
/**
 * Loads the CLI (bin/cli/main.ts) as one esbuild bundle cached in node_modules/.cache/pgshift-cli, rebuilt when
 * the SHA-256 of any repository file it was built from changes: ~0.3 s of CPU and ~15 MB less per run than
 * compiling every TypeScript file through tsx's hook (docs/performance.md). Packages stay `require`d from
 * node_modules; each bundled file keeps its own `__dirname`, so paths relative to the sources still hold.
 * PGSHIFT_CLI_BUNDLE=0 runs the sources through tsx instead, as does any failure to build the bundle.
 * Plain CommonJS: it runs before any TypeScript loader.
 */
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const ENTRY = path.join(__dirname, 'main.ts');
const CACHE_DIR = path.join(ROOT, 'node_modules', '.cache', 'pgshift-cli');
const BUNDLE = path.join(CACHE_DIR, 'cli-bundle.cjs');
/** The repository files the bundle was built from, with their SHA-256, the checkout and the esbuild that built it. */
const INPUTS = path.join(CACHE_DIR, 'inputs.json');

function sha256(file) {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

function esbuildVersion() {
  return JSON.parse(fs.readFileSync(require.resolve('esbuild/package.json'), 'utf8')).version;
}

/** True when the cached bundle was built by this esbuild from the files as they are now. */
function bundleIsCurrent() {
  let recorded;
  try {
    recorded = JSON.parse(fs.readFileSync(INPUTS, 'utf8'));
  } catch {
    return false;
  }
  // The bundle names its sources by absolute path: a node_modules shared with another checkout is rebuilt.
  if (recorded.root !== ROOT || recorded.esbuild !== esbuildVersion() || !fs.existsSync(BUNDLE)) return false;
  return Object.entries(recorded.files).every(([rel, hash]) => {
    try {
      return sha256(path.join(ROOT, rel)) === hash;
    } catch {
      return false;
    }
  });
}

/** Gives every bundled repository file its own `__dirname`/`__filename` (esbuild renames the clashes). */
const sourcePaths = {
  name: 'pgshift-source-paths',
  setup(build) {
    build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
      if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
      const source = fs.readFileSync(args.path, 'utf8');
      const header =
        `const __dirname = ${JSON.stringify(path.dirname(args.path))};` +
        ` const __filename = ${JSON.stringify(args.path)};\n`;
      return { contents: header + source, loader: 'ts' };
    });
  },
};

async function buildBundle() {
  const esbuild = require('esbuild');
  fs.mkdirSync(CACHE_DIR, { recursive: true });
  const staging = `${BUNDLE}.${process.pid}.tmp`;
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    absWorkingDir: ROOT,
    outfile: staging,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    metafile: true,
    logLevel: 'silent',
    plugins: [sourcePaths],
  });
  const files = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    const rel = path.relative(ROOT, path.resolve(ROOT, input));
    files[rel] = sha256(path.join(ROOT, rel));
  }
  // The bundle first, then what it was built from: a reader never pairs new inputs with an old bundle.
  fs.renameSync(staging, BUNDLE);
  const inputsStaging = `${INPUTS}.${process.pid}.tmp`;
  fs.writeFileSync(inputsStaging, JSON.stringify({ root: ROOT, esbuild: esbuildVersion(), files }));
  fs.renameSync(inputsStaging, INPUTS);
}

function viaTsx() {
  require('tsx/cjs');
  return require('./main.ts');
}

/** The CLI's module (its `main`), from the cached bundle when it can be, else from the sources via tsx. */
async function loadCli(env = process.env) {
  if (env.PGSHIFT_CLI_BUNDLE === '0') return viaTsx();
  try {
    if (!bundleIsCurrent()) await buildBundle();
  } catch (err) {
    if (env.PGSHIFT_DEBUG) process.stderr.write(`pgshift: no CLI bundle (${err.message}); running via tsx\n`);
    return viaTsx();
  }
  return require(BUNDLE);
}

module.exports = { loadCli, BUNDLE };
