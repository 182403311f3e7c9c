import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { acknowledgeWildcardResource } from './nag';

/** GitHub's OIDC issuer (host only, as IAM names its condition keys). */
export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** The audience `aws-actions/configure-aws-credentials` asks GitHub for. */
export const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';
/** Where `pgshift bundle` / `pgshift start --migrations` upload (lambdas/migrate/bundle.ts). */
export const CI_BUNDLE_PREFIX = 'bundles/';
/** Where a dry run leaves its SQL and findings (lambdas/shared/keys.ts planKeys), read for the PR summary. */
export const CI_PLAN_PREFIX = 'plans/';

export interface GithubCiRoleProps {
  /** GitHub user or organization owning the repository, spelled as GitHub does (the claim is case-sensitive). */
  readonly owner: string;
  /** Repository name, spelled as GitHub does. */
  readonly repo: string;
  /** The branch whose pushes apply migrations (e.g. `main`). */
  readonly branch: string;
  readonly stateMachine: sfn.IStateMachine;
  /** The state machine's name: executions' ARNs are built from it. */
  readonly stateMachineName: string;
  /** pgshift's bucket (SSE-KMS with `key` and S3 Bucket Keys). */
  readonly bucket: s3.IBucket;
  readonly key: kms.IKey;
  /**
   * The account's existing IAM OIDC provider for `token.actions.githubusercontent.com`. An account has at most
   * one per URL, so creating a second fails the deploy: pass the ARN when one exists
   * (`aws iam list-open-id-connect-providers`). @default a new provider is created with this stack
   */
  readonly oidcProviderArn?: string;
  /**
   * Longest session the workflow may ask for (`role-duration-seconds`): `pgshift start --wait` polls with these
   * credentials until the execution ends. 1 to 12 hours. @default 1 hour
   */
  readonly maxSessionDuration?: Duration;
}

/** Every problem of the props in one error: a session outside IAM's range, a wildcard in the repository or branch. */
function refuseInvalidProps(props: GithubCiRoleProps, maxSessionDuration: Duration): void {
  const problems: string[] = [];
  if (maxSessionDuration.toSeconds() < 3600 || maxSessionDuration.toSeconds() > 12 * 3600) {
    problems.push(
      `maxSessionDuration must be 1 to 12 hours (IAM's range), not ${maxSessionDuration.toString()}`,
    );
  }
  for (const [name, value] of Object.entries({
    owner: props.owner,
    repo: props.repo,
    branch: props.branch,
  })) {
    // A wildcard would widen the trust if anyone switched the condition to StringLike.
    if (/[*?\s:]/.test(value) || value === '')
      problems.push(`${name} "${value}" must not be empty or hold * ? : or spaces`);
  }
  if (problems.length > 0) throw new Error(`GithubCiRole: ${problems.join('; ')}`);
}

/**
 * The IAM role a GitHub Actions workflow assumes through OIDC to run pgshift from CI (docs/ci.md): trusted only
 * for the repository's pull requests and pushes to one branch, allowed to upload migration bundles (SSE-KMS
 * with the stack's key), start this state machine, follow its executions and read dry-run plans. Nothing else:
 * no backups, schemas, reports, secrets, deletes or other state machines.
 */
export class GithubCiRole extends Construct {
  readonly role: iam.Role;
  /** The OIDC provider's ARN (created or imported). */
  readonly oidcProviderArn: string;
  /** The `sub` claims the trust policy accepts. */
  readonly subjects: string[];

  constructor(scope: Construct, id: string, props: GithubCiRoleProps) {
    super(scope, id);
    const maxSessionDuration = props.maxSessionDuration ?? Duration.hours(1);
    refuseInvalidProps(props, maxSessionDuration);

    this.oidcProviderArn =
      props.oidcProviderArn ??
      new iam.OidcProviderNative(this, 'GithubOidcProvider', {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIds: [GITHUB_OIDC_AUDIENCE],
      }).oidcProviderArn;

    const repo = `repo:${props.owner}/${props.repo}`;
    // Pull requests plan (dry run); pushes to the branch apply. GitHub's `sub` for a job that names an
    // `environment:` is `repo:O/R:environment:E` instead, which this role does not accept (docs/ci.md).
    this.subjects = [`${repo}:pull_request`, `${repo}:ref:refs/heads/${props.branch}`];
    this.role = new iam.Role(this, 'Role', {
      description: `pgshift CI: GitHub Actions of ${props.owner}/${props.repo} (pull requests, ${props.branch})`,
      assumedBy: new iam.WebIdentityPrincipal(this.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: GITHUB_OIDC_AUDIENCE,
          [`${GITHUB_OIDC_HOST}:sub`]: this.subjects,
        },
      }),
      maxSessionDuration,
    });

    const executionsArn = this.grantStateMachine(props);
    const { bundles, plans } = this.grantBundlesAndPlans(props);
    acknowledgeWildcardResource(
      this.role,
      executionsArn,
      "Execution ARNs are made at start time; the wildcard covers only this state machine's executions.",
    );
    acknowledgeWildcardResource(
      this.role,
      bundles,
      'Bundles are content-addressed (bundles/<sha256>.json), unknown in advance; only that prefix, only with the stack key.',
    );
    acknowledgeWildcardResource(
      this.role,
      plans,
      "A dry run's plan is written per execution (plans/<db>/<execution>/); read-only, only that prefix.",
    );
  }

  /** Start this state machine and follow its executions; returns the executions' ARN pattern. */
  private grantStateMachine(props: GithubCiRoleProps): string {
    const executionsArn = Stack.of(this).formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${props.stateMachineName}:*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'StartThisStateMachine',
        actions: ['states:StartExecution'],
        resources: [props.stateMachine.stateMachineArn],
      }),
    );
    // `pgshift start --wait` follows the execution: its status and output, and the states it entered.
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'FollowItsExecutions',
        actions: ['states:DescribeExecution', 'states:GetExecutionHistory'],
        resources: [executionsArn],
      }),
    );
    return executionsArn;
  }

  /** Upload bundles and read dry-run plans, with the stack key through S3 only; returns both prefixes' ARNs. */
  private grantBundlesAndPlans(props: GithubCiRoleProps): { bundles: string; plans: string } {
    const stack = Stack.of(this);
    const bundles = props.bucket.arnForObjects(`${CI_BUNDLE_PREFIX}*`);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'UploadBundlesWithTheStackKey',
        actions: ['s3:PutObject'],
        resources: [bundles],
        conditions: {
          StringEquals: {
            's3:x-amz-server-side-encryption': 'aws:kms',
            's3:x-amz-server-side-encryption-aws-kms-key-id': props.key.keyArn,
          },
        },
      }),
    );
    // The dry run's SQL and findings stay in S3 (the execution output carries their keys); the PR summary
    // shows them. Reports are reached through the pre-signed link in the output, so reports/ is not granted.
    const plans = props.bucket.arnForObjects(`${CI_PLAN_PREFIX}*`);
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadDryRunPlans',
        actions: ['s3:GetObject'],
        resources: [plans],
      }),
    );
    // With S3 Bucket Keys the encryption context is the bucket's ARN, not the object's; only through S3.
    const throughS3 = {
      StringEquals: {
        'kms:ViaService': `s3.${stack.region}.amazonaws.com`,
        'kms:EncryptionContext:aws:s3:arn': props.bucket.bucketArn,
      },
    };
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'EncryptBundlesThroughS3',
        actions: ['kms:GenerateDataKey'],
        resources: [props.key.keyArn],
        conditions: throughS3,
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'DecryptPlansThroughS3',
        actions: ['kms:Decrypt'],
        resources: [props.key.keyArn],
        conditions: throughS3,
      }),
    );

    return { bundles, plans };
  }
}
