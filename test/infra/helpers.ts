import * as fs from 'node:fs';
import * as path from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parsePgshiftContext, SAMPLE_CONTEXT } from '../../lib/context';
import { REPO_ROOT } from '../../lib/pgshift-function';
import { PgshiftStack } from '../../lib/pgshift-stack';
import { present } from '../helpers/present';

/**
 * cdk.json's context without `pgshift` (the tests pass their own config): the feature flags `cdk synth` uses,
 * so what the tests synthesize is what deploys.
 */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'cdk.json'), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const { pgshift: _pgshift, ...flags } = cdkJson.context ?? {};
  return flags;
}

/** An App with cdk.json's context; bundling is skipped (`aws:cdk:bundling-stacks: []`) unless `bundle`. */
export function testApp(bundle = false): App {
  return new App({
    context: { ...cdkJsonContext(), ...(bundle ? {} : { 'aws:cdk:bundling-stacks': [] }) },
  });
}

/** Synthesizes the stack from context overrides; bundling is skipped (`aws:cdk:bundling-stacks: []`) for speed. */
export function synth(
  overrides: Record<string, unknown> = {},
  bundle = false,
): { stack: PgshiftStack; template: Template } {
  const app = testApp(bundle);
  const config = parsePgshiftContext({ ...SAMPLE_CONTEXT, ...overrides });
  const stack = new PgshiftStack(app, 'Test', {
    config,
    env: { account: '123456789012', region: 'eu-west-1' },
  });
  return { stack, template: Template.fromStack(stack) };
}

/** Renders a CloudFormation value (Fn::Join of strings and references) with fake ARNs for references. */
export function renderCfn(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = value as Record<string, unknown>;
  if (Array.isArray(o['Fn::Join'])) {
    const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
    return parts.map(renderCfn).join(sep);
  }
  if (Array.isArray(o['Fn::GetAtt'])) {
    const [id] = o['Fn::GetAtt'] as string[];
    return `arn:aws:lambda:eu-west-1:123456789012:function:${id}`;
  }
  if (o.Ref !== undefined) {
    const ref = typeof o.Ref === 'string' ? o.Ref : JSON.stringify(o.Ref);
    if (ref === 'AWS::Partition') return 'aws';
    if (ref === 'AWS::Region') return 'eu-west-1';
    if (ref === 'AWS::AccountId') return '123456789012';
    return `arn:aws:ecs:eu-west-1:123456789012:task-definition/${ref}:1`;
  }
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

export interface AslState {
  Type: string;
  Resource?: string;
  Parameters?: Record<string, unknown>;
  ResultPath?: string | null;
  Retry?: { ErrorEquals: string[]; MaxAttempts?: number; IntervalSeconds?: number; BackoffRate?: number }[];
  Catch?: { ErrorEquals: string[]; ResultPath?: string; Next: string }[];
  TimeoutSeconds?: number;
  Next?: string;
  Choices?: unknown[];
  Default?: string;
  ErrorPath?: string;
  CausePath?: string;
  [k: string]: unknown;
}

/** The state machine's ASL from the template, references replaced by fake ARNs. */
export function definitionOf(template: Template): {
  StartAt: string;
  TimeoutSeconds?: number;
  States: Record<string, AslState>;
  [k: string]: unknown;
} {
  const machines = template.findResources('AWS::StepFunctions::StateMachine');
  const machine = present(Object.values(machines)[0], 'the state machine');
  return JSON.parse(renderCfn(machine.Properties.DefinitionString));
}
