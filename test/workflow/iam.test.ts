/**
 * The IAM check of the workflow tests (test/workflow/harness.ts assertIamAllows) denies what the template does
 * not grant: the same simulation that passes every real run fails on a request outside a role's policies.
 */
import { withClient } from '../../lambdas/shared/db';
import { dropDatabase, freshDatabase, rigInfo, seedRows, tableChecksum } from '../rig/helpers';
import type { RecordedCall } from '../../bin/cli/aws-gateway';
import { assertIamAllows, runWorkflow, startRigDeployment } from './harness';

describe('IAM simulation of a local deployment (template policies, nothing reaches AWS)', () => {
  test("a request outside the caller role's policies fails the check, naming action, caller and resource", async () => {
    const db = await freshDatabase('wfiam');
    const deployment = await startRigDeployment({ databaseUrl: db.url, database: db.name });
    try {
      const notify = deployment.functions.find((f) => f.step === 'notify');
      const backup = deployment.functions.find((f) => f.step === 'backup');
      const bucket = rigInfo().s3.bucket;
      const call = (principal: string, action: string, resource: string) => ({
        caller: 'test',
        service: 's3',
        operation: action,
        authorizations: [{ principal, action, resource, context: { 'aws:SecureTransport': 'true' } }],
      });
      // The backup's cleanup of a failed dump may delete under backups/ (issue 13), nowhere else.
      await expect(
        assertIamAllows(deployment, [
          call(backup!.roleArn, 's3:DeleteObject', `arn:aws:s3:::${bucket}/backups/${db.name}/x.dump`),
        ]),
      ).resolves.toBeUndefined();
      await expect(
        assertIamAllows(deployment, [
          call(notify!.roleArn, 's3:DeleteObject', `arn:aws:s3:::${bucket}/backups/${db.name}/x.dump`),
        ]),
      ).rejects.toThrow(
        /s3:DeleteObject by arn:aws:iam::000000000000:role\/StepsNotifyFunctionServiceRole\w+: ImplicitlyDenied/,
      );
      await expect(
        assertIamAllows(deployment, [
          call(backup!.roleArn, 's3:DeleteObject', `arn:aws:s3:::${bucket}/schemas/${db.name}/latest.json`),
        ]),
      ).rejects.toThrow(/schemas\/.*latest\.json/);
      // A multipart upload's parts carry no encryption headers: the bucket's encryption denies must not hit them,
      // and still refuse a put that asks for SSE-S3.
      const dump = `arn:aws:s3:::${bucket}/backups/${db.name}/x.dump`;
      await expect(
        assertIamAllows(deployment, [call(backup!.roleArn, 's3:PutObject', dump)]),
      ).resolves.toBeUndefined();
      await expect(
        assertIamAllows(deployment, [
          {
            ...call(backup!.roleArn, 's3:PutObject', dump),
            authorizations: [
              {
                principal: backup!.roleArn,
                action: 's3:PutObject',
                resource: dump,
                context: { 'aws:SecureTransport': 'true', 's3:x-amz-server-side-encryption': 'AES256' },
              },
            ],
          },
        ]),
      ).rejects.toThrow(/s3:PutObject by .*ExplicitlyDenied/);
    } finally {
      await deployment.stop();
      await db.drop();
    }
  });

  test("the CLI's direct S3 path: a function's and the Fargate task's S3 requests bypass the recorder, and a backup and its restore still work", async () => {
    // Prepare
    const db = await freshDatabase('wfdirect');
    await seedRows(db.target, 2000, { textBytes: 100 });
    const expected = await tableChecksum(db.target, 'items');
    const recorded: RecordedCall[] = [];
    const direct = {
      databaseUrl: db.url,
      database: db.name,
      s3Path: 'direct' as const,
      inspect: (deployment: { calls: RecordedCall[] }) => void recorded.push(...deployment.calls),
    };
    try {
      // Act
      const backup = await runWorkflow({ action: 'backup' }, direct);
      await withClient(db.target, (c) => c.query('DELETE FROM items'));
      const restore = await runWorkflow(
        { action: 'restore', backup: 'latest', confirm: db.name, runner: 'fargate', restoreJobs: 2 },
        direct,
      );
      // Assess
      expect(backup.error).toBeUndefined();
      expect(restore.error).toBeUndefined();
      expect(restore.visited.map((v) => v.state)).toContain('Restore database (Fargate)');
      expect(await tableChecksum(db.target, 'items')).toEqual(expected);
      const previous = (restore.state?.results.restore as { previousDatabase?: string } | undefined)
        ?.previousDatabase;
      if (previous) await dropDatabase(previous);
      expect(recorded.filter((c) => c.service === 's3')).toEqual([]);
      expect(recorded.map((c) => c.caller)).toContain('FargateTask');
      expect(recorded.some((c) => c.service === 'secretsmanager')).toBe(true);
    } finally {
      await db.drop();
    }
  }, 600_000);
});
