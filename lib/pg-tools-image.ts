import * as fs from 'node:fs';
import * as path from 'node:path';
import { AssetHashType, AssetStaging, DockerImage } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import { RDS_CA_BUNDLE_IN_ASSET, rdsCaBundleFile, squawkBinary } from './bundled-files';
import { BUNDLING, REPO_ROOT } from './pgshift-function';

/** The handlers the image runs: Lambda's `<step>/handler.handler` and Fargate's `node /var/task/fargate/task.js`. */
export const IMAGE_ENTRIES = ['backup/handler', 'restore/handler', 'schema/handler', 'fargate/task'] as const;

export interface PgToolsImageProps {
  /** PostgreSQL client major the image installs (Dockerfile ARG PG_MAJOR); must be >= the server's. */
  readonly pgMajor: number;
  /** The Dockerfile, which only COPYs what this construct bundled. @default lambdas/image/Dockerfile */
  readonly dockerfile?: string;
  /** Handler entries, relative to lambdas/ without extension. @default IMAGE_ENTRIES */
  readonly entries?: readonly string[];
  /**
   * The migrations folder (absolute) the Fargate task applies, copied to `migrations/` with Squawk's binary
   * (`bin/squawk`) and libpg-query's WebAssembly (next to `fargate/task.js`, which bundles the migrate step).
   * `null`: an empty `migrations/`. @default null
   */
  readonly migrationsDir?: string | null;
}

/**
 * pgshift's pg tools image (backup, restore, schema on Lambda; the Fargate task). The CDK app bundles the
 * handlers itself, locally with esbuild and the zip functions' settings, into a staging directory holding
 * `<entry>.js` (+ source map), `certs/rds-global-bundle.pem` and the Dockerfile; that directory is the image's
 * build context, so the Dockerfile only installs the PostgreSQL client and COPYs what was bundled: the image
 * cannot diverge from what synth (and the tests) see. When bundling is skipped (`aws:cdk:bundling-stacks: []`),
 * the context is the Dockerfile's folder alone (the image is not built then).
 */
export class PgToolsImage extends Construct {
  readonly asset: ecrAssets.DockerImageAsset;
  /** The staged build context (in cdk.out when bundled). */
  readonly contextDir: string;

  constructor(scope: Construct, id: string, props: PgToolsImageProps) {
    super(scope, id);
    const dockerfile = props.dockerfile ?? path.join(REPO_ROOT, 'lambdas', 'image', 'Dockerfile');
    const entries = props.entries ?? IMAGE_ENTRIES;
    const staging = new AssetStaging(this, 'Context', {
      sourcePath: path.dirname(dockerfile),
      // The context's hash is that of what was bundled (code, certificates, Dockerfile).
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        // Never pulled: local bundling always answers (it throws rather than fall back to Docker).
        image: DockerImage.fromRegistry('public.ecr.aws/lambda/nodejs:24'),
        local: {
          tryBundle(outputDir: string): boolean {
            bundleImageContext(outputDir, dockerfile, entries, props.migrationsDir ?? null);
            return true;
          },
        },
      },
    });
    this.contextDir = staging.absoluteStagedPath;
    this.asset = new ecrAssets.DockerImageAsset(this, 'Image', {
      directory: this.contextDir,
      file: path.basename(dockerfile),
      buildArgs: { PG_MAJOR: String(props.pgMajor) },
      platform: ecrAssets.Platform.LINUX_AMD64,
    });
  }
}

/** Writes the image's build context: the bundled entries, the CA bundle, the migrate step's files, the Dockerfile. */
function bundleImageContext(
  outputDir: string,
  dockerfile: string,
  entries: readonly string[],
  migrationsDir: string | null,
): void {
  // esbuild loaded on use: only a synth that bundles the image context needs it.
  const esbuild = require('esbuild') as typeof import('esbuild');
  esbuild.buildSync({
    entryPoints: Object.fromEntries(entries.map((e) => [e, path.join(REPO_ROOT, 'lambdas', `${e}.ts`)])),
    outdir: outputDir,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: BUNDLING.target,
    sourcemap: BUNDLING.sourceMap,
    sourcesContent: BUNDLING.sourcesContent,
    minify: BUNDLING.minify,
    keepNames: BUNDLING.keepNames,
    external: [...BUNDLING.externalModules],
    logLevel: 'warning',
  });
  const ca = path.join(outputDir, RDS_CA_BUNDLE_IN_ASSET);
  fs.mkdirSync(path.dirname(ca), { recursive: true });
  fs.copyFileSync(rdsCaBundleFile(), ca);
  // The migrate step on Fargate (lambdas/fargate/task.ts): what the migrate function's asset carries.
  fs.mkdirSync(path.join(outputDir, 'bin'), { recursive: true });
  fs.copyFileSync(squawkBinary(), path.join(outputDir, 'bin', 'squawk'));
  fs.chmodSync(path.join(outputDir, 'bin', 'squawk'), 0o755);
  fs.copyFileSync(
    path.join(REPO_ROOT, 'node_modules', 'libpg-query', 'wasm', 'libpg-query.wasm'),
    path.join(outputDir, 'fargate', 'libpg-query.wasm'),
  );
  fs.mkdirSync(path.join(outputDir, 'migrations'), { recursive: true });
  if (migrationsDir) fs.cpSync(migrationsDir, path.join(outputDir, 'migrations'), { recursive: true });
  fs.copyFileSync(dockerfile, path.join(outputDir, path.basename(dockerfile)));
}
