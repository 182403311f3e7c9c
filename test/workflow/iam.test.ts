/**
 * The IAM check of the workflow tests (test/workflow/harness.ts assertIamAllows) denies what the template does
 * not grant: the same simulation that passes every real run fails on a request outside a role's policies.
 */
import { rigInfo, freshDatabase } from '../rig/helpers';
import { assertIamAllows, startRigDeployment } from './harness';

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
});
