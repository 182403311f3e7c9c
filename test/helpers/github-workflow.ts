/**
 * A GitHub Actions workflow file as GitHub reads it: validated with GitHub's own parser and workflow schema
 * (@actions/workflow-parser, the one behind GitHub's Actions language service), and its `${{ }}` expressions
 * evaluated with GitHub's expression engine (@actions/expressions), so a test can run a job's `run:` steps here.
 */
import { readFileSync } from 'node:fs';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import { truthy } from '@actions/expressions/result';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { parse as parseYaml } from 'yaml';

/** Every problem GitHub's parser finds: schema (unknown keys, wrong values), expressions, contexts, jobs. */
export async function workflowProblems(
  file: string,
  content = readFileSync(file, 'utf8'),
): Promise<string[]> {
  const parsed = parseWorkflow({ name: file, content }, new NoOperationTraceWriter());
  const problems = parsed.context.errors.getErrors().map((e) => e.message);
  if (parsed.value) {
    const template = await convertWorkflowTemplate(parsed.context, parsed.value);
    problems.push(...(template.errors ?? []).map((e) => e.Message));
  }
  return [...new Set(problems)];
}

export interface WorkflowStep {
  id?: string;
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, string | number | boolean>;
}

export interface WorkflowJob {
  if?: string;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  defaults?: { run?: { shell?: string } };
  steps: WorkflowStep[];
}

export interface WorkflowFile {
  on: Record<string, unknown>;
  permissions?: Record<string, string>;
  env?: Record<string, string>;
  defaults?: { run?: { shell?: string } };
  jobs: Record<string, WorkflowJob>;
}

export function readWorkflow(file: string): WorkflowFile {
  return parseYaml(readFileSync(file, 'utf8')) as WorkflowFile;
}

/** Contexts for expressions (`vars`, `github`, `steps`, ...), as plain JSON. */
export type ExpressionContexts = Record<string, unknown>;

/** The job status functions of an `if:` (https://docs.github.com/actions/learn-github-actions/expressions). */
function statusFunctions(
  failed: boolean,
): Map<string, { name: string; minArgs: number; maxArgs: number; call: () => data.ExpressionData }> {
  const fn = (name: string, value: boolean) =>
    [name, { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value) }] as const;
  return new Map([fn('success', !failed), fn('failure', failed), fn('cancelled', false), fn('always', true)]);
}

/** Evaluates one expression (without `${{ }}`) as GitHub does. */
export function evaluateExpression(
  expression: string,
  contexts: ExpressionContexts,
  failed = false,
): data.ExpressionData {
  const { tokens } = new Lexer(expression).lex();
  const functions = statusFunctions(failed);
  const expr = new Parser(tokens, Object.keys(contexts), [...functions.values()]).parse();
  const context = JSON.parse(JSON.stringify(contexts), data.reviver) as data.Dictionary;
  return new Evaluator(expr, context, functions).evaluate();
}

/** Replaces each `${{ expr }}` of a string with its value, as GitHub does before running a step. */
export function interpolate(text: string, contexts: ExpressionContexts): string {
  return text.replace(/\$\{\{\s*([\s\S]+?)\s*\}\}/g, (_, expr: string) =>
    evaluateExpression(expr, contexts).coerceString(),
  );
}

/** Whether a job or step runs: `if:` (with or without `${{ }}`), GitHub's default being `success()`. */
export function conditionHolds(
  condition: string | undefined,
  contexts: ExpressionContexts,
  failed: boolean,
): boolean {
  if (condition === undefined) return !failed;
  const expr = condition.trim().replace(/^\$\{\{\s*([\s\S]*?)\s*\}\}$/, '$1');
  // GitHub adds success() to a condition that calls no status function.
  const withStatus = /\b(success|failure|cancelled|always)\(\)/.test(expr) ? expr : `success() && (${expr})`;
  return truthy(evaluateExpression(withStatus, contexts, failed));
}
