/**
 * The GitHub Actions role (context `ci.githubOidc`): only when configured, trusted for exactly the repository's
 * pull requests and pushes to one branch with GitHub's audience for STS, an OIDC provider created or imported,
 * sessions as long as an execution, and cdk-nag clean.
 */
import { Duration, Stack, Validations } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { GithubCiRole } from '../../lib/github-ci-role';
import { Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { PgshiftStack } from '../../lib/pgshift-stack';
import { synth, testApp } from './helpers';
import { present } from '../helpers/present';

const GITHUB = { owner: 'acme', repo: 'app', branch: 'main' };
const EXISTING_PROVIDER = 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com';

function trustOf(template: ReturnType<typeof synth>['template']): Record<string, unknown> {
  const roles = template.findResources('AWS::IAM::Role', {
    Properties: {
      AssumeRolePolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Action: 'sts:AssumeRoleWithWebIdentity' })]),
      },
    },
  });
  expect(Object.keys(roles)).toHaveLength(1);
  const role = present(Object.values(roles)[0], 'the CI role');
  return role.Properties.AssumeRolePolicyDocument.Statement[0];
}

describe('GitHub Actions CI role', () => {
  test('no role and no OIDC provider without ci.githubOidc', () => {
    const { template } = synth();
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(JSON.stringify(template.toJSON())).not.toContain('sts:AssumeRoleWithWebIdentity');
    expect(template.findOutputs('CiRoleArn')).toEqual({});
  });

  test("trusts only the repository's pull requests and pushes to the branch, with STS as the audience", () => {
    const { template } = synth({ ci: { githubOidc: GITHUB } });
    const providers = template.findResources('AWS::IAM::OIDCProvider');
    const [providerId] = Object.keys(providers);
    expect(trustOf(template)).toEqual({
      Effect: 'Allow',
      Action: 'sts:AssumeRoleWithWebIdentity',
      Principal: { Federated: { Ref: providerId } },
      Condition: {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          'token.actions.githubusercontent.com:sub': [
            'repo:acme/app:pull_request',
            'repo:acme/app:ref:refs/heads/main',
          ],
        },
      },
    });
  });

  test("creates GitHub's OIDC provider for the STS audience by default", () => {
    const { template } = synth({ ci: { githubOidc: GITHUB } });
    template.resourceCountIs('AWS::IAM::OIDCProvider', 1);
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  test("an existing provider's ARN is trusted as is and no second provider is created", () => {
    const { template } = synth({ ci: { githubOidc: { ...GITHUB, providerArn: EXISTING_PROVIDER } } });
    template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    expect(trustOf(template)).toMatchObject({ Principal: { Federated: EXISTING_PROVIDER } });
  });

  test('sessions last as long as an execution may (4 h by default), within IAM’s 1 to 12 hours', () => {
    const role = (overrides: Record<string, unknown>) => {
      const { template } = synth({ ci: { githubOidc: GITHUB }, ...overrides });
      const roles = template.findResources('AWS::IAM::Role', {
        Properties: { MaxSessionDuration: Match.anyValue() },
      });
      return Object.values(roles).map((r) => r.Properties.MaxSessionDuration);
    };
    const workflow = parsePgshiftContext(SAMPLE_CONTEXT).workflow;
    expect(role({})).toEqual([4 * 3600]);
    expect(role({ workflow: { ...workflow, executionTimeoutMinutes: 30 } })).toEqual([3600]);
    expect(role({ workflow: { ...workflow, executionTimeoutMinutes: 2000 } })).toEqual([12 * 3600]);
  });

  test('the role ARN and the bucket key ARN are stack outputs (the workflow passes both)', () => {
    const { template } = synth({ ci: { githubOidc: GITHUB } });
    template.hasOutput('CiRoleArn', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('GithubCiRole'), 'Arn'] },
    });
    template.hasOutput('BucketKeyArn', {
      Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('BackupsKey'), 'Arn'] },
    });
  });

  test('the stack with the CI role has no unacknowledged cdk-nag finding', () => {
    const app = testApp();
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    new PgshiftStack(app, 'NagCi', {
      config: parsePgshiftContext({ ...SAMPLE_CONTEXT, ci: { githubOidc: GITHUB } }),
      env: { account: '123456789012', region: 'eu-west-1' },
    });
    expect(() => app.synth()).not.toThrow();
  });
});

describe('GithubCiRole props', () => {
  test('a session outside IAM’s 1 to 12 hours and a wildcard branch are reported together', () => {
    const stack = new Stack(testApp(), 'Props');
    const build = () =>
      new GithubCiRole(stack, 'Ci', {
        owner: 'acme',
        repo: 'app',
        branch: 'release/*',
        stateMachine: sfn.StateMachine.fromStateMachineName(stack, 'Sm', 'sm'),
        stateMachineName: 'sm',
        bucket: s3.Bucket.fromBucketName(stack, 'B', 'pgshift-bucket'),
        key: kms.Key.fromKeyArn(stack, 'K', 'arn:aws:kms:eu-west-1:123456789012:key/k'),
        maxSessionDuration: Duration.hours(13),
      });
    expect(build).toThrow(/maxSessionDuration must be 1 to 12 hours.*; branch "release\/\*" must not/);
  });
});

describe('ci.githubOidc context', () => {
  const parse = (githubOidc: unknown) => () => parsePgshiftContext({ ...SAMPLE_CONTEXT, ci: { githubOidc } });

  test('accepts owner, repo, branch and an optional provider ARN', () => {
    expect(
      parse({ ...GITHUB, branch: 'release/2026.1', providerArn: EXISTING_PROVIDER })().ci.githubOidc,
    ).toEqual({
      ...GITHUB,
      branch: 'release/2026.1',
      providerArn: EXISTING_PROVIDER,
    });
  });

  test('a wildcard, a refs/heads/ prefix or a bad owner is refused, naming the field', () => {
    expect(parse({ ...GITHUB, branch: 'release/*' })).toThrow(
      /pgshift\.ci\.githubOidc\.branch: a branch name such as "main"/,
    );
    expect(parse({ ...GITHUB, branch: 'refs/heads/main' })).toThrow(/pgshift\.ci\.githubOidc\.branch/);
    expect(parse({ ...GITHUB, owner: '-acme' })).toThrow(/pgshift\.ci\.githubOidc\.owner: a GitHub user/);
    expect(parse({ ...GITHUB, repo: 'acme/app' })).toThrow(
      /pgshift\.ci\.githubOidc\.repo: a repository name/,
    );
  });

  test('a missing field, an unknown field and a provider of another issuer are each named', () => {
    const bad = parse({
      owner: 'acme',
      repo: 'app',
      brnach: 'main',
      providerArn: 'arn:aws:iam::123456789012:oidc-provider/gitlab.com',
    });
    expect(bad).toThrow(/pgshift\.ci\.githubOidc\.branch/);
    expect(bad).toThrow(/brnach/);
    expect(bad).toThrow(
      /pgshift\.ci\.githubOidc\.providerArn: must be the ARN of the account's GitHub OIDC provider/,
    );
  });
});
