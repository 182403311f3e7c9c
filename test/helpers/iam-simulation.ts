/**
 * IAM checked, not assumed: each authorization a local deployment recorded (bin/cli/aws-gateway.ts) is
 * evaluated with @cloud-copilot/iam-simulate against the policies of the synthesized template — the caller
 * role's identity policies (inline AWS::IAM::Policy and managed ARNs we can read), the resource's policy
 * (bucket policy, KMS key policy, topic policy) — as AWS would evaluate a same-account request.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Authorization } from '../../bin/cli/aws-gateway';
import { LOCAL_ACCOUNT } from '../../bin/cli/aws-gateway';
import type { CfnTemplate } from '../../bin/cli/local-runner';

type Resource = CfnTemplate['Resources'][string];
type PolicyDocument = { Version?: string; Statement: unknown[] };

export interface IamVerdict {
  authorization: Authorization;
  result: string;
  /** Why, in words: the identity/resource side that did not allow it. */
  why: string;
}

function asArray<T>(v: T | T[] | undefined): T[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** Identity policies of each role ARN in a resolved template. */
export function identityPolicies(
  resolved: CfnTemplate,
): Map<string, { name: string; policy: PolicyDocument }[]> {
  const roleArnById = new Map<string, string>();
  const byArn = new Map<string, { name: string; policy: PolicyDocument }[]>();
  for (const [id, res] of Object.entries(resolved.Resources)) {
    if (res.Type !== 'AWS::IAM::Role') continue;
    const roleName: unknown = res.Properties?.RoleName;
    const name = typeof roleName === 'string' ? roleName : id;
    const arn = `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}`;
    roleArnById.set(name, arn);
    const inline = asArray(
      res.Properties?.Policies as { PolicyName: string; PolicyDocument: PolicyDocument }[],
    );
    byArn.set(
      arn,
      inline.map((p) => ({ name: p.PolicyName, policy: p.PolicyDocument })),
    );
  }
  for (const [id, res] of Object.entries(resolved.Resources)) {
    if (res.Type !== 'AWS::IAM::Policy') continue;
    const doc = res.Properties?.PolicyDocument as PolicyDocument;
    for (const role of asArray(res.Properties?.Roles as string[])) {
      const arn = roleArnById.get(role);
      if (arn) byArn.get(arn)?.push({ name: id, policy: doc });
    }
  }
  return byArn;
}

/** The resource policy AWS evaluates for a resource ARN: bucket, key or topic policy of the template. */
export function resourcePolicyFor(resolved: CfnTemplate, resourceArn: string): PolicyDocument | undefined {
  const resources = Object.values(resolved.Resources) as (Resource & {
    Properties?: Record<string, unknown>;
  })[];
  if (resourceArn.startsWith('arn:aws:s3:::')) {
    const bucket = resourceArn.slice('arn:aws:s3:::'.length).split('/')[0];
    const policy = resources.find(
      (r) => r.Type === 'AWS::S3::BucketPolicy' && r.Properties?.Bucket === bucket,
    );
    return policy?.Properties?.PolicyDocument as PolicyDocument | undefined;
  }
  if (resourceArn.startsWith('arn:aws:kms:')) {
    // Keys are named by id in their ARN (bin/cli/local-deployment.ts localNames).
    const keyId = resourceArn.split('/').pop();
    for (const [id, r] of Object.entries(resolved.Resources)) {
      if (r.Type === 'AWS::KMS::Key' && `local-key-${id}` === keyId) {
        return r.Properties?.KeyPolicy as PolicyDocument;
      }
    }
    return undefined;
  }
  if (resourceArn.startsWith('arn:aws:sns:')) {
    const policy = resources.find(
      (r) =>
        r.Type === 'AWS::SNS::TopicPolicy' && asArray(r.Properties?.Topics as string[]).includes(resourceArn),
    );
    return policy?.Properties?.PolicyDocument as PolicyDocument | undefined;
  }
  return undefined;
}

/** Evaluates one authorization; `principal` may be a role ARN or a service principal (events.amazonaws.com). */
export async function simulate(resolved: CfnTemplate, auth: Authorization): Promise<IamVerdict> {
  const identities = identityPolicies(resolved).get(auth.principal) ?? [];
  const resourcePolicy = resourcePolicyFor(resolved, auth.resource);
  const result = await runSimulation(
    {
      request: {
        principal: auth.principal,
        action: auth.action,
        resource: { resource: auth.resource, accountId: LOCAL_ACCOUNT },
        contextVariables: { 'aws:PrincipalAccount': LOCAL_ACCOUNT, ...auth.context },
      },
      identityPolicies: identities.map((p, i) => ({ name: p.name || `policy${i}`, policy: p.policy })),
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy } : {}),
    },
    {},
  );
  if (result.resultType === 'error') {
    return {
      authorization: auth,
      result: 'Error',
      why: `simulation could not run: ${result.errors.message}`,
    };
  }
  const verdict = result.overallResult;
  const why =
    verdict === 'Allowed'
      ? 'allowed'
      : `${verdict}: no statement of ${auth.principal.split('/').pop()}'s policies${resourcePolicy ? ' or the resource policy' : ''} allows ${auth.action} on ${auth.resource}${Object.keys(auth.context).length ? ` with ${JSON.stringify(auth.context)}` : ''}`;
  return { authorization: auth, result: verdict, why };
}

/** Every authorization that AWS would deny (deduplicated by principal, action, resource and context). */
export async function deniedAuthorizations(
  resolved: CfnTemplate,
  authorizations: Authorization[],
): Promise<IamVerdict[]> {
  const seen = new Set<string>();
  const denied: IamVerdict[] = [];
  for (const auth of authorizations) {
    const key = JSON.stringify([auth.principal, auth.action, auth.resource, auth.context]);
    if (seen.has(key)) continue;
    seen.add(key);
    const verdict = await simulate(resolved, auth);
    if (verdict.result !== 'Allowed') denied.push(verdict);
  }
  return denied;
}

/** The S3 Bucket Key encryption context that SSE-KMS grants are conditioned on (the bucket's ARN). */
const S3_ENCRYPTION_CONTEXT = 'kms:EncryptionContext:aws:s3:arn';

/**
 * @cloud-copilot/iam-simulate (0.1.173) drops `kms:EncryptionContext:<key>` from a request (it keeps only
 * `/`-style variable keys such as `aws:RequestTag/x`), so a statement conditioned on it never matches there.
 * Returns a copy of the template whose identity policies named `policyPrefix…` have that one condition taken
 * out, and the values taken out, for the caller to assert on their own.
 */
export function withoutEncryptionContext(
  resolved: CfnTemplate,
  policyPrefix: string,
): { simulated: CfnTemplate; removed: unknown[] } {
  const simulated = JSON.parse(JSON.stringify(resolved)) as CfnTemplate;
  const removed: unknown[] = [];
  for (const [id, res] of Object.entries(simulated.Resources)) {
    if (res.Type !== 'AWS::IAM::Policy' || !id.startsWith(policyPrefix)) continue;
    const doc = res.Properties?.PolicyDocument as PolicyDocument & {
      Statement: { Condition?: Record<string, Record<string, unknown>> }[];
    };
    for (const statement of doc.Statement) {
      for (const test of Object.values(statement.Condition ?? {})) {
        if (S3_ENCRYPTION_CONTEXT in test) {
          removed.push(test[S3_ENCRYPTION_CONTEXT]);
          delete test[S3_ENCRYPTION_CONTEXT];
        }
      }
    }
  }
  return { simulated, removed };
}
