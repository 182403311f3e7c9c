#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { PgshiftStack } from '../lib/pgshift-stack';

const app = new App();
new PgshiftStack(app, 'Pgshift', {});
app.synth();
