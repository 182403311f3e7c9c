import { X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { imageFiles, readDockerfile, type Dockerfile } from '../../bin/cli/dockerfile';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { PgshiftStack } from '../../lib/pgshift-stack';
import { present } from '../helpers/present';
import { z } from 'zod';

/**
 * What ships: one synth WITH bundling (about 20-30 s), then the assets in cdk.out are read as Lambda and Docker
 * would see them. The image is never built here (no Docker): its tree is laid out from the Dockerfile's COPYs.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudFormation properties are untyped JSON
type Resource = { Type: string; Properties: Record<string, any> };

let outdir: string;
let resources: Record<string, Resource>;
let imageDir: string;
let dockerfile: Dockerfile;
let tree: Map<string, string>;

const TASK_ROOT = '/var/task';

beforeAll(() => {
  outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'pgshift-assets-'));
  const app = new App({ outdir });
  const stack = new PgshiftStack(app, 'Assets', {
    config: parsePgshiftContext({ ...SAMPLE_CONTEXT, migrationsDir: 'examples/migrations' }),
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  const assembly = app.synth();
  resources = assembly.getStackArtifact(stack.artifactId).template.Resources;
  const manifest = JSON.parse(
    fs.readFileSync(path.join(outdir, `${stack.artifactId}.assets.json`), 'utf8'),
  ) as {
    dockerImages: Record<string, { source: { directory: string; dockerFile?: string } }>;
  };
  const images = Object.values(manifest.dockerImages);
  expect(images).toHaveLength(1);
  const [image] = images;
  if (!image) throw new Error('the assembly has no image asset');
  imageDir = path.join(outdir, image.source.directory);
  dockerfile = readDockerfile(
    fs.readFileSync(path.join(imageDir, image.source.dockerFile ?? 'Dockerfile'), 'utf8'),
  );
  tree = imageFiles(dockerfile, imageDir, { LAMBDA_TASK_ROOT: TASK_ROOT });
}, 180_000);

afterAll(() => {
  if (outdir) fs.rmSync(outdir, { recursive: true, force: true });
});

function ofType(type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

function zipFunctions(): { id: string; step: string; dir: string; handler: string }[] {
  return ofType('AWS::Lambda::Function')
    .filter(([, r]) => r.Properties.Code?.S3Key !== undefined)
    .map(([id, r]) => ({
      id,
      step: r.Properties.Environment.Variables.PGSHIFT_STEP as string,
      // The asset's S3 key is "<hash>.zip"; cdk.out keeps it unzipped as asset.<hash>.
      dir: path.join(outdir, `asset.${String(r.Properties.Code.S3Key).replace(/\.zip$/, '')}`),
      handler: r.Properties.Handler as string,
    }));
}

function expectPemBundle(file: string): void {
  const text = fs.readFileSync(file, 'utf8');
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  expect(blocks.length).toBeGreaterThan(10);
  const subjects = blocks.map((b) => new X509Certificate(b).subject);
  expect(subjects.some((s) => /Amazon RDS/.test(s))).toBe(true);
}

describe('the image', () => {
  test('is single-stage from the Lambda Node.js base image and copies only what the CDK bundling built', () => {
    expect(dockerfile.from).toBe('public.ecr.aws/lambda/nodejs:24');
    expect(dockerfile.copyFrom).toBe(false);
    expect(dockerfile.copies.length).toBeGreaterThan(0);
    for (const { src } of dockerfile.copies) expect(fs.existsSync(path.join(imageDir, src))).toBe(true);
    expect(dockerfile.args).toHaveProperty('PG_MAJOR');
  });

  test('its CMD, every image function command and the Fargate entry point name files in the tree', () => {
    const handlerFile = (cmd: string) => `${TASK_ROOT}/${cmd.replace(/\.[^.]+$/, '')}.js`;
    expect(tree.has(handlerFile(present(dockerfile.cmd[0], 'the image CMD')))).toBe(true);
    const imageFns = ofType('AWS::Lambda::Function').filter(([, r]) => r.Properties.PackageType === 'Image');
    expect(imageFns).toHaveLength(3);
    for (const [, fn] of imageFns) {
      const cmd = present((fn.Properties.ImageConfig.Command as string[])[0], 'the function command');
      expect({ cmd, present: tree.has(handlerFile(cmd)) }).toEqual({ cmd, present: true });
    }
    const [, task] = present(ofType('AWS::ECS::TaskDefinition')[0], 'the task definition');
    const [node, script] = task.Properties.ContainerDefinitions[0].EntryPoint as string[];
    expect(node).toBe('node');
    expect(tree.has(present(script, 'the entry point script'))).toBe(true);
  });

  test('carries the RDS CA bundle at certs/rds-global-bundle.pem under the task root', () => {
    const file = tree.get(`${TASK_ROOT}/certs/rds-global-bundle.pem`);
    expect(file).toBeDefined();
    expectPemBundle(file as string);
  });

  test("the Fargate task can apply migrations: Squawk (executable), the migrations and libpg-query's WebAssembly where its environment and bundle look", () => {
    const [, task] = present(ofType('AWS::ECS::TaskDefinition')[0], 'the task definition');
    const container = task.Properties.ContainerDefinitions[0];
    const env = Object.fromEntries(
      (container.Environment as { Name: string; Value: string }[]).map((e) => [e.Name, e.Value]),
    );
    const squawk = tree.get(`${TASK_ROOT}/${env.PGSHIFT_SQUAWK_BIN}`);
    expect(squawk).toBeDefined();
    expect(fs.statSync(squawk as string).mode & 0o111).not.toBe(0);
    const migrations = [...tree.keys()]
      .filter((f) => f.startsWith(`${TASK_ROOT}/${env.PGSHIFT_MIGRATIONS_DIR}/`))
      .map((f) => path.basename(f))
      .sort();
    expect(migrations).toEqual(
      fs.readdirSync(path.join(__dirname, '..', '..', 'examples', 'migrations')).sort(),
    );
    // libpg-query loads its WebAssembly from the directory of the bundle that includes it (fargate/task.js).
    const script = present((container.EntryPoint as string[])[1], 'the entry point script');
    expect(tree.has(path.posix.join(path.posix.dirname(script), 'libpg-query.wasm'))).toBe(true);
  });

  test('is built with the PG_MAJOR of the configuration', () => {
    const manifest = z
      .object({
        dockerImages: z.record(
          z.string(),
          z.object({ source: z.object({ dockerBuildArgs: z.record(z.string(), z.string()).optional() }) }),
        ),
      })
      .parse(JSON.parse(fs.readFileSync(path.join(outdir, 'Assets.assets.json'), 'utf8')));
    const [image] = Object.values(manifest.dockerImages);
    expect(image?.source.dockerBuildArgs).toEqual({ PG_MAJOR: '17' });
  });
});

describe('every asset', () => {
  test('bundles no test file and no test helper (lint-rule tests sit beside the rules under lambdas/)', () => {
    const dirs = [imageDir, ...zipFunctions().map((f) => f.dir)];
    const sources: string[] = [];
    const files: string[] = [];
    for (const dir of dirs) {
      for (const rel of fs.readdirSync(dir, { recursive: true }) as string[]) {
        files.push(rel);
        if (!rel.endsWith('.js.map')) continue;
        const map = JSON.parse(fs.readFileSync(path.join(dir, rel), 'utf8')) as { sources: string[] };
        sources.push(...map.sources);
      }
    }
    // The source maps name every module esbuild put in a bundle; the rules' own sources must be among them.
    expect(sources.some((s) => s.includes('lambdas/migrate/lint/rules/'))).toBe(true);
    expect(sources.filter((s) => /\.test\.ts$|(^|\/)test\//.test(s))).toEqual([]);
    expect(files.filter((f) => /\.test\.[jt]s$/.test(f))).toEqual([]);
  });
});

describe('the zip functions', () => {
  test('each asset has its handler and the RDS CA bundle at certs/rds-global-bundle.pem', () => {
    const fns = zipFunctions();
    expect(fns.map((f) => f.step).sort()).toEqual([
      'ended',
      'migrate',
      'notify',
      'preflight',
      'report',
      'workflow',
    ]);
    for (const fn of fns) {
      const handlerJs = path.join(fn.dir, `${fn.handler.replace(/\.[^.]+$/, '')}.js`);
      expect({ step: fn.step, handler: fs.existsSync(handlerJs) }).toEqual({ step: fn.step, handler: true });
      const pem = path.join(fn.dir, 'certs', 'rds-global-bundle.pem');
      expect({ step: fn.step, pem: fs.existsSync(pem) }).toEqual({ step: fn.step, pem: true });
      expectPemBundle(pem);
    }
  });

  test('migrate ships Squawk (executable) and the configured migrations where its environment says', () => {
    const migrate = zipFunctions().find((f) => f.step === 'migrate');
    if (!migrate) throw new Error('no migrate zip function');
    const env = present(resources[migrate.id], 'the migrate function').Properties.Environment
      .Variables as Record<string, string>;
    const dir = migrate.dir;
    const squawk = path.join(dir, present(env.PGSHIFT_SQUAWK_BIN, 'PGSHIFT_SQUAWK_BIN'));
    expect(fs.statSync(squawk).mode & 0o111).not.toBe(0);
    const shipped = fs
      .readdirSync(path.join(dir, present(env.PGSHIFT_MIGRATIONS_DIR, 'PGSHIFT_MIGRATIONS_DIR')))
      .sort();
    expect(shipped).toEqual(
      fs.readdirSync(path.join(__dirname, '..', '..', 'examples', 'migrations')).sort(),
    );
  });
});
