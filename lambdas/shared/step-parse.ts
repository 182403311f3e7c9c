/**
 * The seam where step results come back as JSON (the state machine's state, an execution's output, a spilled
 * output in S3): checked against each step's schema (./step-outputs.ts) once, typed from there on.
 */
import { z } from 'zod';
import { StepResultInvalidError } from './errors';
import { executionInputSchema } from './input';
import { stepOutputSchema, stepResultsSchema, type StepOutput, type StepResults } from './step-outputs';

function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}

/** `step`: whose output it is; by default the first segment of the first problem's path (a result's name). */
function invalid(
  where: string,
  issues: readonly z.core.$ZodIssue[],
  step = issues[0]?.path[0]?.toString(),
): StepResultInvalidError {
  const first = issues[0];
  const problems = issues.map((i) => `${where}${fieldPath(i.path)}: ${i.message}`);
  const whose = step === undefined ? `The ${where}` : `The ${step} step's result`;
  return new StepResultInvalidError(
    `${whose} does not match its output contract (lambdas/shared/step-outputs.ts): ${problems.join('; ')}.`,
    { details: { step, field: first ? `${where}${fieldPath(first.path)}` : where, problems } },
  );
}

/**
 * The results of a workflow state, each checked against its step's schema. Throws StepResultInvalidError naming
 * the result and the field (`results.plan.pendingCount: …`). Fields a schema does not name are kept as they are.
 */
export function parseStepResults(value: unknown, where = 'results'): StepResults {
  const parsed = stepResultsSchema.safeParse(value ?? {});
  if (!parsed.success) throw invalid(where, parsed.error.issues);
  return parsed.data;
}

/** One output whose step is not known here (a spilled output, a Fargate task's result): `step` and `ok` checked. */
export function parseStepOutput(value: unknown, step: string, where: string): StepOutput {
  const parsed = stepOutputSchema.safeParse(value);
  if (!parsed.success) throw invalid(where, parsed.error.issues, step);
  return parsed.data;
}

const executionSchema = z.looseObject({
  id: z.string(),
  name: z.string().optional(),
  startTime: z.string().optional(),
});

/** A step's event as a Fargate task receives it (PGSHIFT_EVENT): results stay out of it (lib/workflow.ts). */
export const stepEventSchema = z.object({
  input: executionInputSchema,
  execution: executionSchema,
  params: z.record(z.string(), z.unknown()).optional(),
  results: stepResultsSchema.optional(),
});

/** The state the workflow carries once `Validate input` has run: what an execution's output is. */
export const workflowStateSchema = z.looseObject({
  input: executionInputSchema,
  execution: executionSchema,
  results: stepResultsSchema,
  /** What a Catch put at `$.error` on the way to the failure path. */
  error: z.looseObject({ Error: z.string(), Cause: z.string() }).optional(),
});
export type WorkflowState = z.infer<typeof workflowStateSchema>;

/** Whether a value is a workflow state at all (the execution input before `Validate input` is not). */
export function isWorkflowStateLike(value: unknown): value is { input: unknown; results: unknown } {
  return typeof value === 'object' && value !== null && 'input' in value && 'results' in value;
}

/** A workflow state (an execution's output, or the last state output of a failed one), its results checked. */
export function parseWorkflowState(value: unknown): WorkflowState {
  const parsed = workflowStateSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const inResults = parsed.error.issues.filter((i) => i.path[0] === 'results');
  if (inResults.length > 0) {
    throw invalid(
      'results',
      inResults.map((i) => ({ ...i, path: i.path.slice(1) })),
    );
  }
  throw invalid('workflow state', parsed.error.issues, 'workflow');
}

/** The `results` of an execution's output or a state (`{ input, execution, results, … }`), when it has any. */
export function resultsOfState(state: unknown): StepResults | undefined {
  if (typeof state !== 'object' || state === null || !('results' in state)) return undefined;
  return parseStepResults(state.results);
}
