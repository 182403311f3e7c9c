import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PgshiftStack } from '../../lib/pgshift-stack';

function template(): Template {
  const app = new App();
  return Template.fromStack(new PgshiftStack(app, 'Test', {}));
}

test('backup bucket encrypts with its own customer-managed KMS key', () => {
  const t = template();
  t.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  t.hasResourceProperties('AWS::S3::Bucket', {
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [
        Match.objectLike({
          ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }),
          BucketKeyEnabled: true,
        }),
      ],
    },
  });
});

test('backup bucket blocks public access and is retained with the stack', () => {
  const t = template();
  t.hasResource('AWS::S3::Bucket', {
    DeletionPolicy: 'Retain',
    Properties: Match.objectLike({
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    }),
  });
});
