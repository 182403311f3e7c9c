/**
 * What the GitHub Actions role may do, IAM-simulated against the synthesized template (its policies, the bucket
 * policy, the key policy): exactly what the CI workflow does (upload a bundle with SSE-KMS, start this state
 * machine, follow the execution, read the dry run's plan) and nothing around it. Nothing reaches AWS; the
 * simulator evaluates each same-account request as AWS would.
 */
import { App } from 'aws-cdk-lib';
import type { Authorization } from '../../bin/cli/aws-gateway';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../bin/cli/aws-gateway';
import { localNames } from '../../bin/cli/local-deployment';
import { resolveTokens, type CfnTemplate } from '../../bin/cli/local-runner';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { PgshiftStack } from '../../lib/pgshift-stack';
import { simulate, withoutEncryptionContext } from '../helpers/iam-simulation';
import { present } from '../helpers/present';

const BUCKET = 'pgshift-ci-bucket';
const SHA = 'a'.repeat(64);

interface Deployed {
  role: string;
  stateMachine: string;
  key: string;
  secret: string;
}

function deployed(): Deployed & { resolved: CfnTemplate; removedContexts: unknown[] } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new PgshiftStack(app, 'PgshiftCi', {
    config: parsePgshiftContext({
      ...SAMPLE_CONTEXT,
      ci: { githubOidc: { owner: 'acme', repo: 'app', branch: 'main' } },
    }),
  });
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  const names = localNames(template, { bucket: BUCKET });
  const resolved = resolveTokens(template, template, names) as CfnTemplate;
  const idOf = (type: string, pattern: RegExp) => {
    const ids = Object.keys(template.Resources).filter(
      (id) => template.Resources[id]?.Type === type && pattern.test(id),
    );
    expect(ids).toHaveLength(1);
    return present(ids[0], `the ${type} ${pattern}`);
  };
  const { simulated, removed } = withoutEncryptionContext(resolved, 'GithubCiRole');
  return {
    resolved: simulated,
    removedContexts: removed,
    role: present(names.att[idOf('AWS::IAM::Role', /^GithubCiRole/)]?.Arn, "the CI role's ARN"),
    stateMachine: present(
      names.ref[idOf('AWS::StepFunctions::StateMachine', /.*/)],
      "the state machine's ARN",
    ),
    key: present(names.att[idOf('AWS::KMS::Key', /^BackupsKey/)]?.Arn, "the backup key's ARN"),
    secret: SAMPLE_CONTEXT.database.secretArn,
  };
}

const tls = { 'aws:SecureTransport': 'true' };
const viaS3 = (bucket = BUCKET) => ({
  'kms:ViaService': `s3.${LOCAL_REGION}.amazonaws.com`,
  'kms:CallerAccount': LOCAL_ACCOUNT,
  'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${bucket}`,
});
const sseKms = (key: string) => ({
  ...tls,
  's3:x-amz-server-side-encryption': 'aws:kms',
  's3:x-amz-server-side-encryption-aws-kms-key-id': key,
});

describe('GitHub Actions role, IAM-simulated against the template', () => {
  const d = deployed();
  const as = (action: string, resource: string, context: Record<string, string> = {}): Authorization => ({
    principal: d.role,
    action,
    resource,
    context,
  });
  const execution = (machine: string) => `${machine.replace(':stateMachine:', ':execution:')}:ci-run-1`;

  /**
   * What `pgshift start migrate --wait --migrations DIR` (apply) and `pgshift plan --migrations DIR` (the PR's dry
   * run and its summary) do, request by request.
   */
  const workflowNeeds: [string, Authorization][] = [
    [
      'upload the bundle with SSE-KMS and the stack key',
      as('s3:PutObject', `arn:aws:s3:::${BUCKET}/bundles/${SHA}.json`, sseKms(d.key)),
    ],
    ["the bundle's data key, through S3, for this bucket", as('kms:GenerateDataKey', d.key, viaS3())],
    ['start this state machine', as('states:StartExecution', d.stateMachine)],
    ['follow its execution', as('states:DescribeExecution', execution(d.stateMachine))],
    ['list the states it entered', as('states:GetExecutionHistory', execution(d.stateMachine))],
    ["read the dry run's SQL", as('s3:GetObject', `arn:aws:s3:::${BUCKET}/plans/app/ci-run-1/plan.sql`, tls)],
    [
      "read the dry run's findings, scripts and analyses",
      as('s3:GetObject', `arn:aws:s3:::${BUCKET}/plans/app/ci-run-1/plan.json`, tls),
    ],
    ['decrypt it, through S3, for this bucket', as('kms:Decrypt', d.key, viaS3())],
  ];
  test.each(workflowNeeds)('allowed: %s', async (_what, auth) => {
    const verdict = await simulate(d.resolved, auth);
    expect(verdict.why).toBe('allowed');
  });

  const otherMachine = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:someone-else`;
  const otherKey = `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:key/another-key`;
  const beyond: [string, Authorization][] = [
    [
      'PutObject outside bundles/',
      as('s3:PutObject', `arn:aws:s3:::${BUCKET}/backups/app/x.dump`, sseKms(d.key)),
    ],
    [
      'PutObject over a report',
      as('s3:PutObject', `arn:aws:s3:::${BUCKET}/reports/app/r.json`, sseKms(d.key)),
    ],
    [
      'PutObject to bundles/ without SSE-KMS headers',
      as('s3:PutObject', `arn:aws:s3:::${BUCKET}/bundles/${SHA}.json`, tls),
    ],
    [
      'PutObject to bundles/ with SSE-S3',
      as('s3:PutObject', `arn:aws:s3:::${BUCKET}/bundles/${SHA}.json`, {
        ...tls,
        's3:x-amz-server-side-encryption': 'AES256',
      }),
    ],
    [
      'PutObject to bundles/ with another KMS key',
      as('s3:PutObject', `arn:aws:s3:::${BUCKET}/bundles/${SHA}.json`, sseKms(otherKey)),
    ],
    ['StartExecution of another state machine', as('states:StartExecution', otherMachine)],
    [
      "DescribeExecution of another state machine's run",
      as('states:DescribeExecution', execution(otherMachine)),
    ],
    ['StopExecution', as('states:StopExecution', execution(d.stateMachine))],
    [
      'reading a backup',
      as('s3:GetObject', `arn:aws:s3:::${BUCKET}/backups/app/2026/01/01/pg_backup_20260101_030000.dump`, tls),
    ],
    ['reading a schema snapshot', as('s3:GetObject', `arn:aws:s3:::${BUCKET}/schemas/app/latest.json`, tls)],
    ['reading a report', as('s3:GetObject', `arn:aws:s3:::${BUCKET}/reports/app/x/report.json`, tls)],
    ['reading bundles back', as('s3:GetObject', `arn:aws:s3:::${BUCKET}/bundles/${SHA}.json`, tls)],
    ['listing the bucket', as('s3:ListBucket', `arn:aws:s3:::${BUCKET}`, tls)],
    ['DeleteObject of a bundle', as('s3:DeleteObject', `arn:aws:s3:::${BUCKET}/bundles/${SHA}.json`, tls)],
    ['DeleteObject of a backup', as('s3:DeleteObject', `arn:aws:s3:::${BUCKET}/backups/app/x.dump`, tls)],
    ['reading the database secret', as('secretsmanager:GetSecretValue', d.secret)],
    [
      'a data key requested directly, not through S3',
      as('kms:GenerateDataKey', d.key, { 'kms:CallerAccount': LOCAL_ACCOUNT }),
    ],
    [
      'kms:Decrypt called directly, not through S3',
      as('kms:Decrypt', d.key, { 'kms:CallerAccount': LOCAL_ACCOUNT }),
    ],
    ['assuming another role', as('sts:AssumeRole', `arn:aws:iam::${LOCAL_ACCOUNT}:role/admin`)],
  ];
  test.each(beyond)('denied: %s', async (_what, auth) => {
    const verdict = await simulate(d.resolved, auth);
    expect(verdict.result).not.toBe('Allowed');
    expect(verdict.result).not.toBe('Error');
  });

  test("both KMS grants hold only for this bucket's encryption context (the S3 Bucket Key context is the bucket ARN)", () => {
    // Taken out of the simulated copy (see withoutEncryptionContext): GenerateDataKey and Decrypt, each once.
    expect(d.removedContexts).toEqual([`arn:aws:s3:::${BUCKET}`, `arn:aws:s3:::${BUCKET}`]);
  });
});
