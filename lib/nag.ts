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
    if ('Ref' in v && v.Ref !== undefined)
      return `<${typeof v.Ref === 'string' ? v.Ref : JSON.stringify(v.Ref)}>`;
    const getAtt = 'Fn::GetAtt' in v ? v['Fn::GetAtt'] : undefined;
    if (Array.isArray(getAtt)) return `<${getAtt.map(String).join('.')}>`;
    const join = 'Fn::Join' in v ? v['Fn::Join'] : undefined;
    if (Array.isArray(join)) {
      const sep: unknown = join[0];
      const parts: unknown = join[1];
      return (Array.isArray(parts) ? parts : []).map(render).join(String(sep));
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
