import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CfnTemplate } from './local-runner';

/**
 * Synthesizes the pgshift stack in-process, exactly as `cdk synth` does from cdk.json, and returns its
 * CloudFormation template. Bundling is skipped (`aws:cdk:bundling-stacks: []`): the local runner calls the
 * handlers' TypeScript directly and only needs the definition and each function's PGSHIFT_STEP.
 */
export function synthesizeTemplate(contextOverrides: Record<string, unknown> = {}): CfnTemplate {
  // Loaded lazily: aws-cdk-lib is large, and `pgshift lint`/`diff`/`start` never need it.
  const { App } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  const { PgshiftStack } = require('../../lib/pgshift-stack') as typeof import('../../lib/pgshift-stack');
  const { parsePgshiftContext } = require('../../lib/context') as typeof import('../../lib/context');
  const root = path.resolve(__dirname, '..', '..');
  const cdkJson = JSON.parse(readFileSync(path.join(root, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const context = { ...cdkJson.context, ...contextOverrides };
  const outdir = mkdtempSync(path.join(os.tmpdir(), 'pgshift-synth-'));
  try {
    // Asset staging copies the image's build context; a local run builds no image, so it is skipped too.
    const app = new App({
      outdir,
      context: { ...context, 'aws:cdk:bundling-stacks': [], 'aws:cdk:disable-asset-staging': true },
    });
    const stack = new PgshiftStack(app, 'PgshiftLocal', { config: parsePgshiftContext(context.pgshift) });
    return app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}
