import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CfnTemplate } from './local-runner';

/** The repository root (this file is bin/cli/synth.ts). */
const ROOT = path.resolve(__dirname, '..', '..');

/** Everything whose content shapes the synthesized stack and its bundled assets. */
const SHAPING_PATHS = [
  'lib',
  'lambdas',
  'bin/app.ts',
  'bin/cli/synth.ts',
  'cdk.json',
  'package-lock.json',
  'tsconfig.json',
];

/** How many synthesized assemblies the cache keeps (each is a few tens of MB). */
const CACHE_KEEP = 4;

/** The stack's id in a local assembly. */
export const LOCAL_STACK_ID = 'PgshiftLocal';

export interface SynthesizedAssembly {
  /** The cloud assembly folder (`cdk.out`-like): the template and every staged asset. */
  dir: string;
  template: CfnTemplate;
  /** Asset folders by the `aws:asset:path` a resource names (absolute paths inside `dir`). */
  assetDir: (assetPath: string) => string;
  /** Whether this call synthesized (false: the cache had it). */
  synthesized: boolean;
}

function cacheRoot(): string {
  return process.env.PGSHIFT_CACHE_DIR
    ? path.join(process.env.PGSHIFT_CACHE_DIR, 'synth')
    : path.join(os.homedir(), '.cache', 'pgshift', 'synth');
}

function hashTree(hash: ReturnType<typeof createHash>, root: string, rel: string): void {
  const abs = path.join(root, rel);
  if (!existsSync(abs)) {
    hash.update(`missing:${rel}\n`);
    return;
  }
  const st = statSync(abs);
  if (st.isDirectory()) {
    for (const name of readdirSync(abs).sort()) {
      // Tests beside the code (lambdas/**/*.test.ts) are never bundled, so editing one keeps the cache.
      if (name === 'node_modules' || name === 'cdk.out' || name.endsWith('.test.ts')) continue;
      hashTree(hash, root, path.join(rel, name));
    }
    return;
  }
  hash.update(`file:${rel}:${st.mode & 0o111 ? 'x' : '-'}\n`);
  hash.update(readFileSync(abs));
}

/** The cache key: a hash of every shaping file, the migrations folder, the context and the Node.js in use. */
export function synthCacheKey(context: Record<string, unknown>): string {
  const hash = createHash('sha256');
  for (const p of SHAPING_PATHS) hashTree(hash, ROOT, p);
  const migrationsDir = (context.pgshift as { migrationsDir?: unknown } | undefined)?.migrationsDir;
  if (typeof migrationsDir === 'string') hashTree(hash, path.resolve(ROOT, migrationsDir), '.');
  hash.update(JSON.stringify(context));
  hash.update(`${process.version} ${process.platform} ${process.arch}`);
  return hash.digest('hex').slice(0, 24);
}

/** cdk.json's context with `overrides` on top (the `pgshift` key replaced whole when given). */
export function appContext(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(path.join(ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return { ...cdkJson.context, ...overrides };
}

function synthesizeInto(outdir: string, context: Record<string, unknown>): void {
  // Loaded lazily: aws-cdk-lib is large, and `pgshift lint`/`diff`/`start` never need it.
  const { App } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { PgshiftStack } = require('../../lib/pgshift-stack') as typeof import('../../lib/pgshift-stack');
  const { parsePgshiftContext } = require('../../lib/context') as typeof import('../../lib/context');
  // Bundling runs as in `cdk synth` (esbuild on this machine, no Docker); asset metadata ties each resource to
  // its asset folder, which is what the local runner executes.
  const app = new App({ outdir, context: { ...context, 'aws:cdk:enable-asset-metadata': true } });
  new PgshiftStack(app, LOCAL_STACK_ID, { config: parsePgshiftContext(context.pgshift) });
  app.synth();
}

function prune(root: string, keep: string): void {
  const entries = readdirSync(root)
    .filter((n) => !n.startsWith('.'))
    .map((n) => ({ n, t: statSync(path.join(root, n)).mtimeMs }))
    .sort((a, b) => b.t - a.t);
  for (const { n } of entries.slice(CACHE_KEEP)) {
    if (n !== keep) rmSync(path.join(root, n), { recursive: true, force: true });
  }
}

/** How long a synthesis of the same key by another process may take before we do it ourselves. */
const LOCK_STALE_MS = 10 * 60_000;

/**
 * When another process (a parallel test worker, a second terminal) is synthesizing the same key, waits for
 * its result rather than spending the same minute of CPU again.
 */
function waitForOtherSynthesis(root: string, key: string, dir: string): void {
  const lock = path.join(root, `.lock-${key}`);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (existsSync(lock) && !existsSync(path.join(dir, 'manifest.json'))) {
    let age = 0;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      return;
    }
    if (age > LOCK_STALE_MS) return;
    Atomics.wait(pause, 0, 0, 500);
  }
}

/**
 * Synthesizes the pgshift stack in-process exactly as `cdk synth` does from cdk.json, bundled assets included,
 * and caches the assembly under a key of everything that shapes it, so only the first run after a change
 * pays for synthesis and bundling.
 */
export function synthesizeAssembly(contextOverrides: Record<string, unknown> = {}): SynthesizedAssembly {
  const context = appContext(contextOverrides);
  const root = cacheRoot();
  const key = synthCacheKey(context);
  const dir = path.join(root, key);
  let synthesized = false;
  const lock = path.join(root, `.lock-${key}`);
  if (!existsSync(path.join(dir, 'manifest.json'))) {
    mkdirSync(root, { recursive: true });
    try {
      mkdirSync(lock);
    } catch {
      waitForOtherSynthesis(root, key, dir);
    }
  }
  if (!existsSync(path.join(dir, 'manifest.json'))) {
    mkdirSync(lock, { recursive: true });
    const staging = path.join(root, `.tmp-${key}-${process.pid}-${Date.now()}`);
    try {
      synthesizeInto(staging, context);
      writeFileSync(path.join(staging, 'pgshift-cache.json'), JSON.stringify({ key, at: new Date() }));
      try {
        renameSync(staging, dir);
      } catch (err) {
        // Another process finished the same key first: theirs is identical.
        if (!existsSync(path.join(dir, 'manifest.json'))) throw err;
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
      rmSync(lock, { recursive: true, force: true });
    }
    synthesized = true;
    prune(root, key);
  }
  const template = JSON.parse(
    readFileSync(path.join(dir, `${LOCAL_STACK_ID}.template.json`), 'utf8'),
  ) as CfnTemplate;
  return {
    dir,
    template,
    assetDir: (assetPath) => path.resolve(dir, assetPath),
    synthesized,
  };
}

/** The synthesized template alone (bundled assets are built and cached too). */
export function synthesizeTemplate(contextOverrides: Record<string, unknown> = {}): CfnTemplate {
  return synthesizeAssembly(contextOverrides).template;
}
