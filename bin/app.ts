#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { z } from 'zod';
import { parsePgshiftContext } from '../lib/context';
import { PgshiftStack } from '../lib/pgshift-stack';

// Configuration: the `pgshift` context of cdk.json (or `-c pgshift='{"databaseName":...}'`), documented in
// docs/deploy.md. Account and region come from the CLI's environment (CDK_DEFAULT_*), so synth needs none.
const app = new App();
const config = parsePgshiftContext(app.node.tryGetContext('pgshift'));
const stackName = z.string().nullish().parse(app.node.tryGetContext('stackName')) ?? 'Pgshift';
new PgshiftStack(app, stackName, {
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description:
    'pgshift: safe PostgreSQL migrations (backups, linted migrations, schema diffs, reports, restores)',
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
app.synth();
