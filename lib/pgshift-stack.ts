import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { BackupBucket } from './backup-bucket';

export type PgshiftStackProps = StackProps;

/** Wires pgshift's constructs together. No business logic here: that lives in lambdas/. */
export class PgshiftStack extends Stack {
  readonly backups: BackupBucket;

  constructor(scope: Construct, id: string, props: PgshiftStackProps = {}) {
    super(scope, id, props);
    this.backups = new BackupBucket(this, 'Backups');
  }
}
