import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import { parseExecutionInput } from '../../lambdas/shared/input';
import { isRecord } from '../../lambdas/shared/is-record';
import { stepOutputSchema } from '../../lambdas/shared/step-outputs';
import { isStateMachineDefinition, NextTaskLookahead } from './lookahead';
import { isWorkflowStateLike, parseWorkflowState, type WorkflowState } from '../../lambdas/shared/step-parse';
import { jsonBytes, STATE_LIMIT_BYTES } from '../../lambdas/shared/step-budget';
import { errorMessage, errorName } from '../../lambdas/shared/errors';
import { z } from 'zod';

/**
 * Runs the deployed workflow locally: the state machine definition comes from the synthesized CloudFormation
 * template (the very one `cdk deploy` uploads), and aws-local-stepfunctions executes it with every Task state
 * calling the matching handler in-process. Nothing here knows the states by heart; it reads them from the
 * template, so a change to lib/ is exercised by `pgshift local`, `npm start` and the workflow tests at once.
 */

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type CfnResource = { Type: string; Properties?: Record<string, unknown> };
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

/** A handler as exported by `lambdas/<step>/handler.ts` (the second argument mirrors Lambda's context). */
export type StepHandler = (
  event: unknown,
  context?: { getRemainingTimeInMillis(): number },
) => Promise<unknown>;

/** How a Task state is run locally. */
export type LocalTask =
  | { state: string; kind: 'lambda'; step: string; timeoutSeconds?: number }
  | { state: string; kind: 'fargate'; step: string; timeoutSeconds?: number };

export interface ResolvedWorkflow {
  /** The state machine definition with every CloudFormation token resolved to a local stand-in. */
  definition: Record<string, unknown>;
  tasks: LocalTask[];
  /** The state machine's logical id in the template. */
  logicalId: string;
}

const LOCAL_ACCOUNT = '000000000000';
const LOCAL_REGION = 'us-east-1';

/** The ARN the local runner gives a Lambda function of the template (recognised again in `tasksOf`). */
export function localFunctionArn(logicalId: string): string {
  return `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${logicalId}`;
}

/** Physical names of a local deployment: what `Ref` and `Fn::GetAtt` of a resource give. */
export interface TokenNames {
  ref: Record<string, string>;
  att: Record<string, Record<string, string>>;
  stackName?: string;
}

function pseudo(ref: string, names?: TokenNames): string | undefined {
  if (ref === 'AWS::Partition') return 'aws';
  if (ref === 'AWS::Region') return LOCAL_REGION;
  if (ref === 'AWS::AccountId') return LOCAL_ACCOUNT;
  if (ref === 'AWS::URLSuffix') return 'amazonaws.com';
  if (ref === 'AWS::StackName') return names?.stackName ?? 'PgshiftLocal';
  if (ref === 'AWS::NoValue') return undefined;
  return undefined;
}

/** The arguments of each intrinsic function CDK emits, as CloudFormation defines them. */
const INTRINSIC_ARGS = {
  join: z.tuple([z.string(), z.unknown()]),
  getAtt: z.union([z.string(), z.tuple([z.string(), z.string()])]),
  ref: z.string(),
  sub: z.union([z.string(), z.tuple([z.string(), z.record(z.string(), z.unknown())])]),
  select: z.tuple([z.union([z.number(), z.string()]), z.unknown()]),
  split: z.tuple([z.string(), z.unknown()]),
};

function resolveGetAtt(arg: unknown, template: CfnTemplate, names?: TokenNames): string {
  const parsed = INTRINSIC_ARGS.getAtt.parse(arg);
  const [id = '', attr = ''] = typeof parsed === 'string' ? parsed.split('.') : parsed;
  const named = names?.att[id]?.[attr];
  if (named !== undefined) return named;
  const type = template.Resources[id]?.Type;
  if (type === 'AWS::Lambda::Function' && attr === 'Arn') return localFunctionArn(id);
  return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${id}/${attr}`;
}

function resolveSub(arg: unknown, again: (v: unknown) => unknown, names?: TokenNames): string {
  const parsed = INTRINSIC_ARGS.sub.parse(arg);
  const [text, vars] = typeof parsed === 'string' ? [parsed, {}] : parsed;
  return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
    if (name in vars) return String(again(vars[name]));
    if (name.startsWith('AWS::')) return String(pseudo(name, names));
    const [id, attr] = name.split('.');
    return String(again(attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: id }));
  });
}

/** One intrinsic function applied to its argument; `undefined` for a key that is not one. */
function resolveIntrinsic(
  fn: string,
  arg: unknown,
  template: CfnTemplate,
  names?: TokenNames,
): { value: unknown } | undefined {
  const again = (v: unknown) => resolveTokens(v, template, names);
  switch (fn) {
    case 'Fn::Join': {
      const [sep, parts] = INTRINSIC_ARGS.join.parse(arg);
      const resolved = again(parts);
      if (!Array.isArray(resolved)) throw new Error(`Fn::Join of ${JSON.stringify(parts)}: not a list`);
      return { value: resolved.map((p) => String(p)).join(sep) };
    }
    case 'Fn::GetAtt':
      return { value: resolveGetAtt(arg, template, names) };
    case 'Ref': {
      const ref = INTRINSIC_ARGS.ref.parse(arg);
      if (ref.startsWith('AWS::')) return { value: pseudo(ref, names) };
      return { value: names?.ref[ref] ?? `local-ref-${ref}` };
    }
    case 'Fn::Sub':
      return { value: resolveSub(arg, again, names) };
    case 'Fn::Select': {
      const [index, list] = INTRINSIC_ARGS.select.parse(arg);
      const resolved = again(list);
      return { value: Array.isArray(resolved) ? resolved[Number(index)] : resolved };
    }
    case 'Fn::Split': {
      const [sep, str] = INTRINSIC_ARGS.split.parse(arg);
      return { value: String(again(str)).split(sep) };
    }
    default:
      return undefined;
  }
}

/**
 * Resolves the intrinsic functions CDK emits (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split) to
 * a local deployment's names; without names, to stand-in values that keep the definition runnable.
 */
export function resolveTokens(value: unknown, template: CfnTemplate, names?: TokenNames): unknown {
  const again = (v: unknown) => resolveTokens(v, template, names);
  if (Array.isArray(value)) return value.map(again);
  if (!isRecord(value)) return value;
  const entries = Object.entries(value);
  const [only] = entries;
  if (entries.length === 1 && only) {
    const resolved = resolveIntrinsic(only[0], only[1], template, names);
    if (resolved) return resolved.value;
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, again(v)]));
}

/** A name-value list (a container's Environment, or its overrides'). */
const NAMED_VALUES = z.array(z.object({ Name: z.string(), Value: z.unknown().optional() }).loose());
const CONTAINERS = z.array(z.object({ Environment: NAMED_VALUES.optional() }).loose());

function envOf(resource: CfnResource | undefined): Record<string, unknown> {
  const env = resource?.Properties?.Environment;
  return isRecord(env) && isRecord(env.Variables) ? env.Variables : {};
}

function stepOfFunction(template: CfnTemplate, logicalId: string): string {
  const step = envOf(template.Resources[logicalId]).PGSHIFT_STEP;
  if (typeof step !== 'string') {
    throw new Error(`Lambda function ${logicalId} has no PGSHIFT_STEP in its environment (lib/ must set it)`);
  }
  return step;
}

/** PGSHIFT_STEP in the first container that sets it to a non-empty string. */
function stepInContainers(containers: unknown): string | undefined {
  const parsed = CONTAINERS.safeParse(containers ?? []);
  for (const c of parsed.success ? parsed.data : []) {
    const found = c.Environment?.find((e) => e.Name === 'PGSHIFT_STEP');
    if (typeof found?.Value === 'string' && found.Value !== '') return found.Value;
  }
  return undefined;
}

/** The step a Fargate task runs: PGSHIFT_STEP in the state's container overrides or the task definition. */
function stepOfFargateState(template: CfnTemplate, parameters: Record<string, unknown>): string {
  const overrides = isRecord(parameters.Overrides) ? parameters.Overrides.ContainerOverrides : undefined;
  const overridden = stepInContainers(overrides);
  if (overridden) return overridden;
  const taskDef = typeof parameters.TaskDefinition === 'string' ? parameters.TaskDefinition : '';
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type !== 'AWS::ECS::TaskDefinition' || !taskDef.includes(id)) continue;
    const step = stepInContainers(res.Properties?.ContainerDefinitions);
    if (step) return step;
  }
  throw new Error(`cannot tell which step the Fargate task of ${taskDef} runs (no PGSHIFT_STEP)`);
}

/** The states of a definition or of a Parallel branch. */
function statesOf(container: unknown): Record<string, Record<string, unknown>> {
  const states = isRecord(container) ? container.States : undefined;
  if (!isRecord(states)) throw new Error('a state machine definition or branch has no States');
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, state] of Object.entries(states)) if (isRecord(state)) out[name] = state;
  return out;
}

/** Every Task state of a definition, with the step it runs, nested Parallel/Map branches included. */
function tasksOf(
  template: CfnTemplate,
  states: Record<string, Record<string, unknown>>,
  out: LocalTask[],
): void {
  const functionArns = new Map<string, string>();
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type === 'AWS::Lambda::Function') functionArns.set(localFunctionArn(id), id);
  }
  for (const [name, state] of Object.entries(states)) {
    if (state.Type === 'Parallel' && Array.isArray(state.Branches)) {
      for (const branch of state.Branches) tasksOf(template, statesOf(branch), out);
    }
    if (state.Type !== 'Task') continue;
    const resource = String(state.Resource);
    const parameters = isRecord(state.Parameters) ? state.Parameters : {};
    const timeoutSeconds = typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined;
    const functionId =
      functionArns.get(resource) ??
      (resource.endsWith(':states:::lambda:invoke') && typeof parameters.FunctionName === 'string'
        ? functionArns.get(parameters.FunctionName)
        : undefined);
    if (functionId) {
      out.push({ state: name, kind: 'lambda', step: stepOfFunction(template, functionId), timeoutSeconds });
    } else if (/:states:::ecs:runTask/.test(resource)) {
      out.push({
        state: name,
        kind: 'fargate',
        step: stepOfFargateState(template, parameters),
        timeoutSeconds,
      });
    } else {
      throw new Error(`state "${name}" uses ${resource}, which the local runner cannot run`);
    }
  }
}

/** Takes the state machine out of a synthesized template and resolves it for local execution. */
export function resolveWorkflow(template: CfnTemplate, names?: TokenNames): ResolvedWorkflow {
  const machines = Object.entries(template.Resources).filter(
    ([, r]) => r.Type === 'AWS::StepFunctions::StateMachine',
  );
  const [only] = machines;
  if (machines.length !== 1 || !only)
    throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const [logicalId, machine] = only;
  const raw = machine.Properties?.DefinitionString ?? machine.Properties?.Definition;
  const resolved = resolveTokens(raw, template, names);
  const definition: unknown = typeof resolved === 'string' ? JSON.parse(resolved) : resolved;
  if (!isRecord(definition)) throw new Error(`the definition of ${logicalId} is not an object`);
  const tasks: LocalTask[] = [];
  tasksOf(template, statesOf(definition), tasks);
  return { definition, tasks, logicalId };
}

/** One line per state as the execution moves, for progress output and tests. */
export interface StateEvent {
  type: 'entered' | 'exited' | 'failed' | 'retried' | 'caught';
  state: string;
  /** The ASL state type (Task, Choice, Pass, Fail, Succeed...). */
  stateType?: string;
  at: number;
  error?: string;
  cause?: string;
}

/** The state the workflow carries once `Validate input` has run (checked where it comes back: step-parse.ts). */
export type { WorkflowState };

/** The largest payloads one state saw in a run, in UTF-8 bytes of their JSON (what Step Functions counts). */
export interface StateSizes {
  /** The state's input (the previous state's output, or the execution input). */
  input: number;
  /** The state's output, after ResultPath/OutputPath (or a Catch's ResultPath). */
  output: number;
  /** A Task's effective input, after Parameters (what the function or the ECS task receives). */
  payload?: number;
  /** A Task's result, before ResultPath (what the function returned). */
  result?: number;
}

/**
 * What Step Functions raises when a state's input or output, a Task's effective input or a Task's result is over
 * 262,144 bytes. A terminal error: no Retry, and no `States.ALL` Catch sees it; the execution fails.
 */
export class DataLimitExceededError extends Error {
  override readonly name = 'States.DataLimitExceeded';
  /** Read by aws-local-stepfunctions' Retry and Catch matching. */
  readonly isRetryable = false;
  readonly isCatchable = false;
}

export interface LocalRunResult {
  ok: boolean;
  /** How the execution ended, in Step Functions' words (what the EventBridge status change says). */
  status: 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';
  /** Epoch milliseconds, as the status-change event's startDate/stopDate. */
  startDate: number;
  stopDate: number;
  executionId: string;
  /** The final state on success; on failure, the last state output seen (results written so far). */
  state?: WorkflowState;
  error?: { name: string; message: string };
  /** States in the order they were entered, with how long each took. */
  visited: { state: string; ms: number; outcome: 'ok' | 'failed' | 'caught' | 'retried' }[];
  durationMs: number;
  /** The largest input, output, Task payload and Task result each state saw, in bytes. */
  stateSizes: Record<string, StateSizes>;
}

/**
 * What runs a Fargate task locally: the task definition's container with the state's container overrides
 * (its environment), which runs the step and writes the result where `Read Fargate … result` reads it.
 */
export type FargateRunner = (
  step: string,
  event: StepEvent,
  overrides?: Record<string, string>,
) => Promise<void>;

export interface LocalRunOptions {
  workflow: ResolvedWorkflow;
  input: unknown;
  /** Loads `lambdas/<step>/handler.ts`'s handler; tests pass one that isolates module state. */
  loadHandler: (step: string) => StepHandler;
  /**
   * Called when a Task state is entered, with the step of the Lambda Task the execution will probably enter
   * next (NextTaskLookahead) and the entered state's step, to prepare the next one early. @default none
   */
  warmAhead?: (step: string, during: string) => Promise<void>;
  runFargateTask: FargateRunner;
  /** The deployed state machine's ARN, as the context object gives it (`$$.StateMachine.Id`). */
  stateMachineArn?: string;
  /** Called when the execution starts (it is RUNNING until the returned function is called). */
  trackExecution?: (name: string, input: unknown) => () => void;
  onEvent?: (event: StateEvent) => void;
  /** @default `local-<timestamp>` */
  executionName?: string;
  /** Shortens `Retry` pauses (milliseconds) so a lock-timeout retry does not wait minutes in tests. */
  retryIntervalMs?: number;
  /** Aborts the execution (as StopExecution would) when this returns true for a state event. */
  abortWhen?: (event: StateEvent) => boolean;
  /** Replaces the definition's TimeoutSeconds (tests of TIMED_OUT). @default the definition's */
  timeoutSeconds?: number;
  /**
   * A folder where a definition that passed aws-local-stepfunctions' validation is remembered (by its
   * SHA-256), so the next run of the same definition skips it: compiling the ASL schema costs ~0.4 s of CPU
   * and ~15 MB on every CLI run. @default none (validate every time)
   */
  validatedDefinitionsDir?: string;
}

/** Node 20 lacks Promise.withResolvers (Node 22 has it), which aws-local-stepfunctions calls. */
function polyfillWithResolvers(): void {
  if ('withResolvers' in Promise && typeof Promise.withResolvers === 'function') return;
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve: (value: T | PromiseLike<T>) => void = () => undefined;
      let reject: (reason?: unknown) => void = () => undefined;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

type AslModule = typeof import('aws-local-stepfunctions');
type Execution = ReturnType<InstanceType<AslModule['StateMachine']>['run']>;
type EventLog = Execution['eventLogs'] extends AsyncGenerator<infer E> ? E : never;
type TaskHandlers = Record<string, (input: Json) => Promise<Json>>;
type Measure = (state: string, what: keyof StateSizes, value: unknown) => void;

function isJson(value: unknown): value is Json {
  if (value === null || ['boolean', 'number', 'string'].includes(typeof value)) return true;
  if (Array.isArray(value)) return value.every(isJson);
  // An undefined property is what JSON.stringify leaves out.
  return isRecord(value) && Object.values(value).every((v) => v === undefined || isJson(v));
}

/** The value as the state machine receives it: its JSON text, parsed (Dates become strings). */
function jsonValueOf(value: unknown): Json {
  const parsed: unknown = JSON.parse(JSON.stringify(value ?? null));
  if (!isJson(parsed)) throw new Error('the execution input is not JSON');
  return parsed;
}

/** Records each size a state sees and refuses one over the limit, as Step Functions does. */
function sizeRecorder(stateSizes: Record<string, StateSizes>): Measure {
  const which = { input: 'input', output: 'output', payload: 'input after Parameters', result: 'result' };
  return (state, what, value) => {
    const bytes = jsonBytes(value);
    const sizes = (stateSizes[state] ??= { input: 0, output: 0 });
    sizes[what] = Math.max(sizes[what] ?? 0, bytes);
    if (bytes > STATE_LIMIT_BYTES) {
      throw new DataLimitExceededError(
        `The state/task '${state}' ${what === 'result' ? 'returned a result' : `has an ${which[what]}`} with a size ` +
          `exceeding the maximum number of bytes service limit (${bytes} > ${STATE_LIMIT_BYTES}).`,
      );
    }
  };
}

/** The container environment a runTask state passes (its Overrides), by name. */
function containerEnvironment(payload: Json): Record<string, string> {
  const out: Record<string, string> = {};
  const overrides = isRecord(payload) && isRecord(payload.Overrides) ? payload.Overrides : {};
  const containers = Array.isArray(overrides.ContainerOverrides) ? overrides.ContainerOverrides : [];
  for (const container of containers) {
    const env = isRecord(container) && Array.isArray(container.Environment) ? container.Environment : [];
    for (const e of env) {
      if (isRecord(e) && typeof e.Name === 'string' && typeof e.Value === 'string') out[e.Name] = e.Value;
    }
  }
  return out;
}

/** The step event the task's PGSHIFT_EVENT carries. */
function stepEventOf(value: unknown): StepEvent {
  const execution = isRecord(value) ? value.execution : undefined;
  if (!isRecord(value) || !isRecord(execution) || typeof execution.id !== 'string') {
    throw new Error('PGSHIFT_EVENT is not a step event');
  }
  return { ...value, input: parseExecutionInput(value.input), execution: { ...execution, id: execution.id } };
}

function fargateTaskHandler(task: LocalTask, options: LocalRunOptions, measure: Measure) {
  return async (payload: Json): Promise<Json> => {
    measure(task.state, 'payload', payload);
    const overrides = containerEnvironment(payload);
    const eventJson = overrides.PGSHIFT_EVENT;
    if (!eventJson) throw new Error(`state "${task.state}" passes no PGSHIFT_EVENT to the task`);
    const event = stepEventOf(JSON.parse(eventJson));
    await options.runFargateTask(task.step, event, overrides);
    // The .sync integration returns ECS's DescribeTasks view; the workflow discards it (ResultPath null).
    return { StopCode: 'EssentialContainerExited', Containers: [{ ExitCode: 0 }] };
  };
}

function lambdaTaskHandler(task: LocalTask, options: LocalRunOptions, measure: Measure) {
  const timeoutMs = (task.timeoutSeconds ?? 60) * 1000;
  return async (payload: Json): Promise<Json> => {
    measure(task.state, 'payload', payload);
    const handler = options.loadHandler(task.step);
    const deadline = Date.now() + timeoutMs;
    const result = await handler(payload, { getRemainingTimeInMillis: () => deadline - Date.now() });
    measure(task.state, 'result', result);
    // What a function returns reaches the state machine as JSON (the host parsed it from JSON).
    if (!isJson(result)) throw new Error(`state "${task.state}": the function returned no JSON value`);
    return result;
  };
}

/** The wiring: each Task state of the workflow to the function or Fargate task that runs it locally. */
function taskHandlers(
  options: LocalRunOptions,
  measure: Measure,
): { handlers: TaskHandlers; retryOverrides: Record<string, number> } {
  const handlers: TaskHandlers = {};
  const retryOverrides: Record<string, number> = {};
  for (const task of options.workflow.tasks) {
    if (options.retryIntervalMs !== undefined) retryOverrides[task.state] = options.retryIntervalMs;
    handlers[task.state] =
      task.kind === 'fargate'
        ? fargateTaskHandler(task, options, measure)
        : lambdaTaskHandler(task, options, measure);
  }
  return { handlers, retryOverrides };
}

/** The interpreter of the definition, validated once per definition when a folder remembers it. */
function stateMachineOf(
  StateMachine: AslModule['StateMachine'],
  options: LocalRunOptions,
  measure: Measure,
): InstanceType<AslModule['StateMachine']> {
  const definition =
    options.timeoutSeconds === undefined
      ? options.workflow.definition
      : { ...options.workflow.definition, TimeoutSeconds: options.timeoutSeconds };
  if (!isStateMachineDefinition(definition))
    throw new Error('the state machine definition has no States or StartAt');
  const definitionText = JSON.stringify(definition);
  const validatedMarker = options.validatedDefinitionsDir
    ? path.join(
        options.validatedDefinitionsDir,
        `.definition-validated-${createHash('sha256').update(definitionText).digest('hex').slice(0, 24)}`,
      )
    : undefined;
  const machine = new StateMachine(definition, {
    validationOptions: {
      checkArn: false,
      noValidate: validatedMarker !== undefined && existsSync(validatedMarker),
    },
  });
  checkStateSizes(machine, measure);
  if (validatedMarker && !existsSync(validatedMarker)) writeFileSync(validatedMarker, definitionText);
  return machine;
}

/** What calls options.warmAhead: on each Task state entered, the step of the Lambda Task after it. */
function warmAheadOf(
  options: LocalRunOptions,
  StateMachine: AslModule['StateMachine'],
  context: Record<string, unknown>,
): ((entry: EventLog) => void) | undefined {
  const { warmAhead } = options;
  if (!warmAhead) return undefined;
  const lookahead = new NextTaskLookahead(StateMachine, options.workflow.definition);
  const lambdaSteps = new Map(
    options.workflow.tasks.filter((t) => t.kind === 'lambda').map((t) => [t.state, t.step]),
  );
  return (entry) => {
    if (entry.type !== 'StateEntered' || entry.state.type !== 'Task') return;
    const during = lambdaSteps.get(entry.state.name);
    // A Fargate task streams data in a process of its own: nothing is started beside it.
    if (during === undefined) return;
    lookahead.after(entry.state.name, entry.state.input, context).then(
      (next) => {
        const step = next === undefined ? undefined : lambdaSteps.get(next);
        // Never rejects; nothing waits for it (the invocation finds the environment ready or starting).
        if (step !== undefined) void warmAhead(step, during);
      },
      () => undefined,
    );
  };
}

/** The execution's name and ARN, and the context object (`$$`) the states see. */
function executionContext(options: LocalRunOptions, started: number) {
  const name = options.executionName ?? `local-${new Date(started).toISOString().replace(/[:.]/g, '-')}`;
  const machineArn = options.stateMachineArn;
  const executionId = machineArn ? `${machineArn.replace(':stateMachine:', ':execution:')}:${name}` : name;
  const input = jsonValueOf(options.input);
  const context = {
    Execution: { Id: executionId, Name: name, StartTime: new Date(started).toISOString(), Input: input },
    StateMachine: {
      Id: machineArn ?? `local:stateMachine:${options.workflow.logicalId}`,
      Name: machineArn?.split(':').pop() ?? options.workflow.logicalId,
    },
  };
  return { name, executionId, input, context };
}

/** An event's Cause as text (the interpreter gives a string, or the Error it caught). */
function causeText(cause: unknown): string | undefined {
  if (cause === undefined) return undefined;
  if (typeof cause === 'string') return cause;
  if (cause instanceof Error) return cause.toString();
  return JSON.stringify(cause);
}

/** Turns the interpreter's event log into state events and one visit per state entered. */
class VisitLog {
  readonly visited: LocalRunResult['visited'] = [];
  lastOutput: unknown;
  private readonly enteredAt = new Map<string, number>();

  constructor(private readonly emit: (event: StateEvent) => void) {}

  private last(stateName: string): LocalRunResult['visited'][number] | undefined {
    const last = this.visited[this.visited.length - 1];
    return last?.state === stateName ? last : undefined;
  }

  private visit(stateName: string, at: number, outcome: 'ok' | 'failed'): void {
    this.visited.push({ state: stateName, ms: at - (this.enteredAt.get(stateName) ?? at), outcome });
  }

  record(entry: EventLog): void {
    if (!('state' in entry)) return;
    const { name: stateName, type: stateType } = entry.state;
    const error = 'Error' in entry ? entry.Error : undefined;
    const cause = 'Cause' in entry ? causeText(entry.Cause) : undefined;
    const emit = (type: StateEvent['type']) =>
      this.emit({ type, state: stateName, stateType, at: entry.timestamp, error, cause });
    switch (entry.type) {
      case 'StateEntered':
        this.enteredAt.set(stateName, entry.timestamp);
        emit('entered');
        break;
      case 'StateExited':
        this.lastOutput = entry.state.output ?? this.lastOutput;
        // A caught error also ends with StateExited (carrying the Catch output): still one visit.
        if (this.last(stateName)?.outcome === 'caught') break;
        this.visit(stateName, entry.timestamp, 'ok');
        emit('exited');
        break;
      case 'StateFailed':
        this.visit(stateName, entry.timestamp, 'failed');
        emit('failed');
        break;
      case 'StateCaught': {
        // The interpreter reports a caught error as StateFailed then StateCaught: one visit, outcome caught.
        const last = this.last(stateName);
        if (last?.outcome === 'failed') last.outcome = 'caught';
        else this.visited.push({ state: stateName, ms: 0, outcome: 'caught' });
        emit('caught');
        break;
      }
      case 'StateRetried': {
        const last = this.last(stateName);
        if (last?.outcome === 'failed') last.outcome = 'retried';
        emit('retried');
        break;
      }
      default:
        break;
    }
  }
}

/** How an execution that threw ended, in Step Functions' words, and the error the run reports. */
function failureOf(
  err: unknown,
): Pick<LocalRunResult, 'status'> & { error: { name: string; message: string } } {
  const kind = err instanceof Error ? err.constructor.name : undefined;
  const status =
    kind === 'ExecutionAbortedError' ? 'ABORTED' : kind === 'ExecutionTimeoutError' ? 'TIMED_OUT' : 'FAILED';
  // ExecutionError carries the state's error as its cause: that is the error's name and message.
  const cause: unknown = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error && cause.name)
    return { status, error: { name: cause.name, message: cause.message } };
  if (isRecord(cause) && typeof cause.name === 'string' && cause.name !== '') {
    const message = typeof cause.message === 'string' ? cause.message : cause.name;
    return { status, error: { name: cause.name, message } };
  }
  return { status, error: { name: errorName(err), message: errorMessage(err) } };
}

/** Executes the resolved workflow once, in-process. Never throws for a failed execution: see `ok`. */
export async function runLocalWorkflow(options: LocalRunOptions): Promise<LocalRunResult> {
  polyfillWithResolvers();
  // Loaded on use: only `pgshift local` runs a state machine. require() is `any`; AslModule is its declared type.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment -- lazy require(), typed by AslModule
  const { StateMachine }: AslModule = require('aws-local-stepfunctions');
  const started = Date.now();
  const { name, executionId, input, context } = executionContext(options, started);
  const untrack = options.trackExecution?.(name, options.input);
  const stateSizes: Record<string, StateSizes> = {};
  const measure = sizeRecorder(stateSizes);
  refuseExplicitDataLimitCatch(options.workflow.definition);
  const { handlers, retryOverrides } = taskHandlers(options, measure);
  const machine = stateMachineOf(StateMachine, options, measure);
  const execution = machine.run(input, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: retryOverrides },
    context,
  });
  const log = new VisitLog((event) => {
    options.onEvent?.(event);
    if (options.abortWhen?.(event)) execution.abort();
  });
  const warm = warmAheadOf(options, StateMachine, context);
  const following = (async () => {
    for await (const entry of execution.eventLogs) {
      log.record(entry);
      warm?.(entry);
    }
  })();
  const ended = (stopDate: number) => ({
    startDate: started,
    stopDate,
    executionId,
    visited: log.visited,
    durationMs: stopDate - started,
    stateSizes,
  });
  try {
    const state = parseWorkflowState(await execution.result);
    await following.catch(() => undefined);
    return { ok: true, status: 'SUCCEEDED', state, ...ended(Date.now()) };
  } catch (err) {
    await following.catch(() => undefined);
    const { status, error } = failureOf(err);
    const state = lastWorkflowState(log.lastOutput);
    return { ok: false, status, state, error, ...ended(Date.now()) };
  } finally {
    untrack?.();
  }
}

/** What aws-local-stepfunctions 3.0.0's StateMachine#execute calls on its event logger between states. */
interface StateEventLogger {
  dispatchStateEnteredEvent(name: string, type: string, input: unknown): void;
  dispatchStateExitedEvent(name: string, type: string, input: unknown, output: unknown): void;
  dispatchStateFailedEvent(name: string, type: string, input: unknown, error: Error): void;
}

/**
 * Makes the machine check each state's input as it is entered and its output as it is left. The check runs in
 * the interpreter's own loop (StateMachine#execute, around each state), outside the state's Retry/Catch
 * handling, so a DataLimitExceededError there fails the execution as Step Functions does: no Catch runs.
 * Relies on execute(input, options, cleanup) taking `options.eventLogger` (aws-local-stepfunctions 3.0.0).
 */
type ExecuteMethod = (
  input: unknown,
  options: { eventLogger: StateEventLogger },
  cleanup: unknown,
) => unknown;

function hasExecute(machine: object): machine is { execute: ExecuteMethod } {
  return 'execute' in machine && typeof machine.execute === 'function';
}

function checkStateSizes(
  machine: object,
  measure: (state: string, what: 'input' | 'output', value: unknown) => void,
): void {
  if (!hasExecute(machine)) {
    throw new Error(
      'aws-local-stepfunctions changed: StateMachine#execute is gone (the state size check needs it)',
    );
  }
  const execute = machine.execute.bind(machine);
  machine.execute = (input, options, cleanup) => {
    const logger = options.eventLogger;
    const refuse = (name: string, type: string, input: unknown, check: () => void) => {
      try {
        check();
      } catch (err) {
        logger.dispatchStateFailedEvent(
          name,
          type,
          input,
          err instanceof Error ? err : new Error(String(err)),
        );
        throw err;
      }
    };
    const checks: Pick<StateEventLogger, 'dispatchStateEnteredEvent' | 'dispatchStateExitedEvent'> = {
      dispatchStateEnteredEvent: (name, type, stateInput) => {
        logger.dispatchStateEnteredEvent(name, type, stateInput);
        refuse(name, type, stateInput, () => measure(name, 'input', stateInput));
      },
      dispatchStateExitedEvent: (name, type, stateInput, output) => {
        refuse(name, type, stateInput, () => measure(name, 'output', output));
        logger.dispatchStateExitedEvent(name, type, stateInput, output);
      },
    };
    // Everything else goes to the logger itself (its event queue is what `eventLogs` reads).
    const guarded = new Proxy(logger, {
      get: (t, prop, receiver) => {
        if (prop === 'dispatchStateEnteredEvent' || prop === 'dispatchStateExitedEvent') return checks[prop];
        const v: unknown = Reflect.get(t, prop, receiver);
        if (typeof v !== 'function') return v;
        const bound: unknown = v.bind(t);
        return bound;
      },
    });
    return execute(input, { ...options, eventLogger: guarded }, cleanup);
  };
}

/**
 * Step Functions lets a Catch that names States.DataLimitExceeded itself catch it (only `States.ALL` cannot);
 * the local runner does not model that, so it refuses such a definition rather than run it differently.
 */
function refuseExplicitDataLimitCatch(definition: Record<string, unknown>): void {
  if (JSON.stringify(definition).includes('"States.DataLimitExceeded"')) {
    throw new Error(
      'the definition names States.DataLimitExceeded in a Retry or Catch, which the local runner does not model',
    );
  }
}

/**
 * The last state a failed run reached, when it is a workflow state whose results keep their contract: the run's
 * own error is what the CLI reports, so a malformed state is left out rather than thrown over it.
 */
function lastWorkflowState(value: unknown): WorkflowState | undefined {
  if (!isWorkflowStateLike(value)) return undefined;
  try {
    return parseWorkflowState(value);
  } catch {
    return undefined;
  }
}

/** The outputs of a run's steps, for the CLI's summary. */
export function stepOutputs(state: WorkflowState | undefined): Record<string, StepOutput> {
  const out: Record<string, StepOutput> = {};
  for (const [k, v] of Object.entries(state?.results ?? {})) {
    const parsed = stepOutputSchema.safeParse(v);
    if (parsed.success) out[k] = parsed.data;
  }
  return out;
}
