/**
 * Who publishes to the alerts topic, IAM-simulated against the template (topic policy, key policy, the
 * publishers' role policies): an EventBridge rule, a CloudWatch alarm action, a Scheduler target or a function
 * the template wires to the topic must be allowed to publish to it, KMS key included. Nothing reaches AWS
 * here; the simulator evaluates the same-account request as AWS would.
 */
import { App } from 'aws-cdk-lib';
import type { Authorization } from '../../bin/cli/aws-gateway';
import { LOCAL_ACCOUNT, LOCAL_REGION } from '../../bin/cli/aws-gateway';
import { localNames } from '../../bin/cli/local-deployment';
import { resolveTokens, type CfnTemplate } from '../../bin/cli/local-runner';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { PgshiftStack } from '../../lib/pgshift-stack';
import { deniedAuthorizations } from '../helpers/iam-simulation';
import { present } from '../helpers/present';

function synthesized(): { template: CfnTemplate; resolved: CfnTemplate; topicArn: string; topicKey: string } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new PgshiftStack(app, 'PgshiftLocal', { config: parsePgshiftContext(SAMPLE_CONTEXT) });
  const template = app.synth().getStackArtifact(stack.artifactId).template as CfnTemplate;
  const names = localNames(template, { bucket: 'pgshift-test-bucket' });
  const resolved = resolveTokens(template, template, names) as CfnTemplate;
  const topic = Object.values(resolved.Resources).find((r) => r.Type === 'AWS::SNS::Topic');
  const topicId = Object.keys(template.Resources).find(
    (id) => template.Resources[id]?.Type === 'AWS::SNS::Topic',
  );
  return {
    template,
    resolved,
    topicArn: present(names.ref[present(topicId, 'the topic')], "the topic's ARN"),
    topicKey: String(topic?.Properties?.KmsMasterKeyId),
  };
}

/** sns:Publish plus the key use an encrypted topic needs, as `principal` with `context`. */
function publish(
  principal: string,
  topicArn: string,
  topicKey: string,
  context: Record<string, string>,
): Authorization[] {
  return [
    {
      principal,
      action: 'sns:Publish',
      resource: topicArn,
      context: { 'aws:SecureTransport': 'true', ...context },
    },
    { principal, action: 'kms:GenerateDataKey', resource: topicKey, context },
    { principal, action: 'kms:Decrypt', resource: topicKey, context },
  ];
}

/** Every publisher the template wires to the topic. */
function publishers(resolved: CfnTemplate, topicArn: string, topicKey: string): Map<string, Authorization[]> {
  const out = new Map<string, Authorization[]>();
  const source = { 'aws:SourceAccount': LOCAL_ACCOUNT };
  for (const [id, r] of Object.entries(resolved.Resources)) {
    const p = r.Properties ?? {};
    if (r.Type === 'AWS::Events::Rule') {
      const targets = (p.Targets as { Arn: string }[] | undefined) ?? [];
      if (targets.some((t) => t.Arn === topicArn)) {
        const ruleArn = `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${id}`;
        out.set(
          `EventBridge rule ${id}`,
          publish('events.amazonaws.com', topicArn, topicKey, { ...source, 'aws:SourceArn': ruleArn }),
        );
      }
    }
    if (
      r.Type === 'AWS::CloudWatch::Alarm' &&
      ((p.AlarmActions as string[] | undefined) ?? []).includes(topicArn)
    ) {
      const alarmArn = `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${id}`;
      out.set(
        `CloudWatch alarm ${id}`,
        publish('cloudwatch.amazonaws.com', topicArn, topicKey, { ...source, 'aws:SourceArn': alarmArn }),
      );
    }
    if (r.Type === 'AWS::Lambda::Function') {
      const vars = (p.Environment as { Variables?: Record<string, string> } | undefined)?.Variables ?? {};
      if (vars.PGSHIFT_TOPIC_ARN === topicArn) {
        out.set(
          `Function ${vars.PGSHIFT_STEP} (${id})`,
          publish(String(p.Role), topicArn, topicKey, {
            'kms:ViaService': `sns.${LOCAL_REGION}.amazonaws.com`,
          }),
        );
      }
    }
    if (r.Type === 'AWS::IAM::Role') {
      const assumed = JSON.stringify(p.AssumeRolePolicyDocument ?? {});
      if (assumed.includes('scheduler.amazonaws.com')) {
        const roleArn = `arn:aws:iam::${LOCAL_ACCOUNT}:role/${id}`;
        out.set(
          `Scheduler role ${id}`,
          publish(roleArn, topicArn, topicKey, { 'kms:ViaService': `sns.${LOCAL_REGION}.amazonaws.com` }),
        );
      }
    }
  }
  return out;
}

describe('publishers of the alerts topic (IAM simulated against the template)', () => {
  const { resolved, topicArn, topicKey } = synthesized();
  const found = publishers(resolved, topicArn, topicKey);

  test('the publishers are the notify and ended functions and the Scheduler watchdog; no service publishes', () => {
    expect([...found.keys()].map((k) => k.split(' (')[0]).sort()).toEqual([
      'Function ended',
      'Function notify',
      expect.stringMatching(/^Scheduler role /),
    ]);
  });

  test.each([...found.keys()])('%s may publish to the encrypted topic', async (publisher) => {
    const denied = await deniedAuthorizations(resolved, found.get(publisher) as Authorization[]);
    expect(denied.map((d) => d.why)).toEqual([]);
  });

  test('a principal the policies do not name is denied (the simulation is not a rubber stamp)', async () => {
    const denied = await deniedAuthorizations(
      resolved,
      publish('arn:aws:iam::000000000000:role/SomeoneElse', topicArn, topicKey, {}),
    );
    expect(denied.map((d) => d.authorization.action).sort()).toEqual([
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sns:Publish',
    ]);
  });
});
