import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * How cdk-nag names a resource in an IAM5 finding: the resolved ARN with `{Ref: X}` as `<X>` and
 * `{Fn::GetAtt: [X, Y]}` as `<X.Y>`. Acknowledgements built from it follow logical-ID changes.
 */
export function nagResource(scope: IConstruct, arn: string): string {
  const render = (v: unknown): string => {
    if (typeof v === 'string') return v;
    if (typeof v !== 'object' || v === null) return JSON.stringify(v);
    if ('Ref' in v && typeof v.Ref === 'string') return `<${v.Ref}>`;
    if ('Fn::GetAtt' in v && Array.isArray(v['Fn::GetAtt'])) return `<${v['Fn::GetAtt'].join('.')}>`;
    if ('Fn::Join' in v && Array.isArray(v['Fn::Join'])) {
      const join: unknown[] = v['Fn::Join'];
      const [sep, parts] = join;
      if (typeof sep === 'string' && Array.isArray(parts)) return parts.map(render).join(sep);
    }
    return JSON.stringify(v);
  };
  return render(Stack.of(scope).resolve(arn));
}

/** Acknowledges one IAM5 wildcard-resource finding on `construct`, naming the resource as cdk-nag does. */
export function acknowledgeWildcardResource(construct: IConstruct, arn: string, reason: string): void {
  Validations.of(construct).acknowledge({
    id: `AwsSolutions-IAM5[Resource::${nagResource(construct, arn)}]`,
    reason,
  });
}

/** Acknowledges one IAM5 wildcard-action finding (e.g. `kms:GenerateDataKey*`) on `construct`. */
export function acknowledgeWildcardAction(construct: IConstruct, action: string, reason: string): void {
  Validations.of(construct).acknowledge({ id: `AwsSolutions-IAM5[Action::${action}]`, reason });
}
