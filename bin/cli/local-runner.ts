import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import type { StepEvent, StepOutput } from '../../lambdas/shared/step';
import { stepOutputSchema } from '../../lambdas/shared/step-outputs';
import { isWorkflowStateLike, parseWorkflowState, type WorkflowState } from '../../lambdas/shared/step-parse';
import { jsonBytes, STATE_LIMIT_BYTES } from '../../lambdas/shared/step-budget';
import { errorMessage } from '../../lambdas/shared/errors';

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

/**
 * Resolves the intrinsic functions CDK emits (Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select, Fn::Split) to
 * a local deployment's names; without names, to stand-in values that keep the definition runnable.
 */
export function resolveTokens(value: unknown, template: CfnTemplate, names?: TokenNames): unknown {
  const again = (v: unknown) => resolveTokens(v, template, names);
  if (Array.isArray(value)) return value.map(again);
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [fn] = keys;
    const arg = obj[fn];
    switch (fn) {
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, unknown[]];
        return (again(parts) as unknown[]).map((p) => String(p)).join(sep);
      }
      case 'Fn::GetAtt': {
        const [id, attr] = (typeof arg === 'string' ? arg.split('.') : arg) as [string, string];
        const named = names?.att[id]?.[attr];
        if (named !== undefined) return named;
        const type = template.Resources[id]?.Type;
        if (type === 'AWS::Lambda::Function' && attr === 'Arn') return localFunctionArn(id);
        return `arn:aws:local:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${id}/${attr}`;
      }
      case 'Ref': {
        const ref = arg as string;
        if (ref.startsWith('AWS::')) return pseudo(ref, names);
        return names?.ref[ref] ?? `local-ref-${ref}`;
      }
      case 'Fn::Sub': {
        const [text, vars] = (typeof arg === 'string' ? [arg, {}] : arg) as [string, Record<string, unknown>];
        return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
          if (name in vars) return String(again(vars[name]));
          if (name.startsWith('AWS::')) return String(pseudo(name, names));
          const [id, attr] = name.split('.');
          return String(again(attr ? { 'Fn::GetAtt': [id, attr] } : { Ref: id }));
        });
      }
      case 'Fn::Select': {
        const [index, list] = arg as [number, unknown];
        const resolved = again(list);
        return Array.isArray(resolved) ? resolved[Number(index)] : resolved;
      }
      case 'Fn::Split': {
        const [sep, str] = arg as [string, unknown];
        return String(again(str)).split(sep);
      }
      default:
        break;
    }
  }
  return Object.fromEntries(keys.map((k) => [k, again(obj[k])]));
}

function envOf(resource: CfnResource | undefined): Record<string, unknown> {
  const env = (resource?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
    ?.Variables;
  return env ?? {};
}

function stepOfFunction(template: CfnTemplate, logicalId: string): string {
  const step = envOf(template.Resources[logicalId]).PGSHIFT_STEP;
  if (typeof step !== 'string') {
    throw new Error(`Lambda function ${logicalId} has no PGSHIFT_STEP in its environment (lib/ must set it)`);
  }
  return step;
}

/** The step a Fargate task runs: PGSHIFT_STEP in the state's container overrides or the task definition. */
function stepOfFargateState(template: CfnTemplate, parameters: Record<string, unknown>): string {
  const overrides = (
    parameters.Overrides as { ContainerOverrides?: { Environment?: { Name: string; Value?: string }[] }[] }
  )?.ContainerOverrides;
  for (const o of overrides ?? []) {
    const found = o.Environment?.find((e) => e.Name === 'PGSHIFT_STEP');
    if (found?.Value) return found.Value;
  }
  const taskDef = String(parameters.TaskDefinition ?? '');
  for (const [id, res] of Object.entries(template.Resources)) {
    if (res.Type !== 'AWS::ECS::TaskDefinition' || !taskDef.includes(id)) continue;
    const containers = (res.Properties?.ContainerDefinitions ?? []) as {
      Environment?: { Name: string; Value?: unknown }[];
    }[];
    for (const c of containers) {
      const found = c.Environment?.find((e) => e.Name === 'PGSHIFT_STEP');
      if (typeof found?.Value === 'string') return found.Value;
    }
  }
  throw new Error(`cannot tell which step the Fargate task of ${taskDef} runs (no PGSHIFT_STEP)`);
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
    if (state.Type === 'Parallel') {
      for (const branch of state.Branches as { States: Record<string, Record<string, unknown>> }[]) {
        tasksOf(template, branch.States, out);
      }
    }
    if (state.Type !== 'Task') continue;
    const resource = String(state.Resource);
    const parameters = (state.Parameters ?? {}) as Record<string, unknown>;
    const timeoutSeconds = typeof state.TimeoutSeconds === 'number' ? state.TimeoutSeconds : undefined;
    const direct = functionArns.get(resource);
    const viaIntegration =
      resource.endsWith(':states:::lambda:invoke') && typeof parameters.FunctionName === 'string'
        ? functionArns.get(parameters.FunctionName)
        : undefined;
    if (direct || viaIntegration) {
      out.push({
        state: name,
        kind: 'lambda',
        step: stepOfFunction(template, (direct ?? viaIntegration) as string),
        timeoutSeconds,
      });
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
  if (machines.length !== 1)
    throw new Error(`expected one state machine in the template, found ${machines.length}`);
  const [logicalId, machine] = machines[0];
  const raw = machine.Properties?.DefinitionString ?? machine.Properties?.Definition;
  const resolved = resolveTokens(raw, template, names);
  const definition = (typeof resolved === 'string' ? JSON.parse(resolved) : resolved) as Record<
    string,
    unknown
  >;
  const tasks: LocalTask[] = [];
  tasksOf(template, definition.States as Record<string, Record<string, unknown>>, tasks);
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
  const P = Promise as unknown as { withResolvers?: unknown };
  if (typeof P.withResolvers === 'function') return;
  P.withResolvers = function withResolvers<T>() {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

/** Executes the resolved workflow once, in-process. Never throws for a failed execution: see `ok`. */
export async function runLocalWorkflow(options: LocalRunOptions): Promise<LocalRunResult> {
  polyfillWithResolvers();
  const { StateMachine } = require('aws-local-stepfunctions') as typeof import('aws-local-stepfunctions');
  const started = Date.now();
  const name = options.executionName ?? `local-${new Date(started).toISOString().replace(/[:.]/g, '-')}`;
  const machineArn = options.stateMachineArn;
  const executionId = machineArn ? `${machineArn.replace(':stateMachine:', ':execution:')}:${name}` : name;
  const untrack = options.trackExecution?.(name, options.input);

  const stateSizes: Record<string, StateSizes> = {};
  /** Records a size and refuses it over the limit, as Step Functions does. */
  const measure = (state: string, what: keyof StateSizes, value: unknown): void => {
    const bytes = jsonBytes(value);
    const sizes = (stateSizes[state] ??= { input: 0, output: 0 });
    sizes[what] = Math.max(sizes[what] ?? 0, bytes);
    if (bytes > STATE_LIMIT_BYTES) {
      const which = { input: 'input', output: 'output', payload: 'input after Parameters', result: 'result' }[
        what
      ];
      throw new DataLimitExceededError(
        `The state/task '${state}' ${what === 'result' ? 'returned a result' : `has an ${which}`} with a size ` +
          `exceeding the maximum number of bytes service limit (${bytes} > ${STATE_LIMIT_BYTES}).`,
      );
    }
  };
  refuseExplicitDataLimitCatch(options.workflow.definition);

  const handlers: Record<string, (input: Json) => Promise<Json>> = {};
  const retryOverrides: Record<string, number> = {};
  for (const task of options.workflow.tasks) {
    if (options.retryIntervalMs !== undefined) retryOverrides[task.state] = options.retryIntervalMs;
    const timeoutMs = (task.timeoutSeconds ?? 60) * 1000;
    if (task.kind === 'fargate') {
      handlers[task.state] = async (payload) => {
        measure(task.state, 'payload', payload);
        const env = (
          payload as {
            Overrides?: { ContainerOverrides?: { Environment?: { Name: string; Value: string }[] }[] };
          }
        ).Overrides?.ContainerOverrides?.flatMap((o) => o.Environment ?? []);
        const eventJson = env?.find((e) => e.Name === 'PGSHIFT_EVENT')?.Value;
        if (!eventJson) throw new Error(`state "${task.state}" passes no PGSHIFT_EVENT to the task`);
        const overrides = Object.fromEntries((env ?? []).map((e) => [e.Name, e.Value]));
        await options.runFargateTask(task.step, JSON.parse(eventJson) as StepEvent, overrides);
        // The .sync integration returns ECS's DescribeTasks view; the workflow discards it (ResultPath null).
        return { StopCode: 'EssentialContainerExited', Containers: [{ ExitCode: 0 }] };
      };
      continue;
    }
    handlers[task.state] = async (payload) => {
      measure(task.state, 'payload', payload);
      const handler = options.loadHandler(task.step);
      const deadline = Date.now() + timeoutMs;
      const result = (await handler(payload, {
        getRemainingTimeInMillis: () => deadline - Date.now(),
      })) as Json;
      measure(task.state, 'result', result);
      return result;
    };
  }

  const definition =
    options.timeoutSeconds === undefined
      ? options.workflow.definition
      : { ...options.workflow.definition, TimeoutSeconds: options.timeoutSeconds };
  const definitionText = JSON.stringify(definition);
  const validatedMarker = options.validatedDefinitionsDir
    ? path.join(
        options.validatedDefinitionsDir,
        `.definition-validated-${createHash('sha256').update(definitionText).digest('hex').slice(0, 24)}`,
      )
    : undefined;
  const machine = new StateMachine(definition as never, {
    validationOptions: {
      checkArn: false,
      noValidate: validatedMarker !== undefined && existsSync(validatedMarker),
    },
  });
  checkStateSizes(machine, measure);
  if (validatedMarker && !existsSync(validatedMarker)) writeFileSync(validatedMarker, definitionText);
  const context = {
    Execution: {
      Id: executionId,
      Name: name,
      StartTime: new Date(started).toISOString(),
      Input: options.input,
    },
    StateMachine: {
      Id: machineArn ?? `local:stateMachine:${options.workflow.logicalId}`,
      Name: machineArn ? (machineArn.split(':').pop() as string) : options.workflow.logicalId,
    },
  };
  const execution = machine.run(options.input as Json, {
    overrides: { taskResourceLocalHandlers: handlers, retryIntervalOverrides: retryOverrides },
    context: context as never,
  });

  const visited: LocalRunResult['visited'] = [];
  const enteredAt = new Map<string, number>();
  let lastOutput: unknown;
  const logs = (async () => {
    for await (const log of execution.eventLogs) {
      const entry = log as {
        type: string;
        timestamp: number;
        state?: { name: string; type?: string; output?: unknown };
        Error?: string;
        Cause?: unknown;
      };
      const stateName = entry.state?.name;
      if (!stateName) continue;
      const visit = (outcome: 'ok' | 'failed'): void => {
        visited.push({
          state: stateName,
          ms: entry.timestamp - (enteredAt.get(stateName) ?? entry.timestamp),
          outcome,
        });
      };
      const emit = (type: StateEvent['type']) => {
        const event: StateEvent = {
          type,
          state: stateName,
          stateType: entry.state?.type,
          at: entry.timestamp,
          error: entry.Error,
          cause: entry.Cause === undefined ? undefined : String(entry.Cause),
        };
        options.onEvent?.(event);
        if (options.abortWhen?.(event)) execution.abort();
      };
      switch (entry.type) {
        case 'StateEntered':
          enteredAt.set(stateName, entry.timestamp);
          emit('entered');
          break;
        case 'StateExited': {
          lastOutput = entry.state?.output ?? lastOutput;
          const last = visited[visited.length - 1];
          // A caught error also ends with StateExited (carrying the Catch output): still one visit.
          if (last?.state === stateName && last.outcome === 'caught') break;
          visit('ok');
          emit('exited');
          break;
        }
        case 'StateFailed':
          visit('failed');
          emit('failed');
          break;
        case 'StateCaught': {
          // The interpreter reports a caught error as StateFailed then StateCaught: one visit, outcome caught.
          const last = visited[visited.length - 1];
          if (last?.state === stateName && last.outcome === 'failed') last.outcome = 'caught';
          else visited.push({ state: stateName, ms: 0, outcome: 'caught' });
          emit('caught');
          break;
        }
        case 'StateRetried': {
          const last = visited[visited.length - 1];
          if (last?.state === stateName && last.outcome === 'failed') last.outcome = 'retried';
          emit('retried');
          break;
        }
        default:
          break;
      }
    }
  })();

  try {
    const output = parseWorkflowState(await execution.result);
    await logs.catch(() => undefined);
    const stopDate = Date.now();
    return {
      ok: true,
      status: 'SUCCEEDED',
      startDate: started,
      stopDate,
      executionId,
      state: output,
      visited,
      durationMs: stopDate - started,
      stateSizes,
    };
  } catch (err) {
    await logs.catch(() => undefined);
    const stopDate = Date.now();
    const kind = (err as Error).constructor?.name;
    const status =
      kind === 'ExecutionAbortedError'
        ? 'ABORTED'
        : kind === 'ExecutionTimeoutError'
          ? 'TIMED_OUT'
          : 'FAILED';
    const cause = (err as { cause?: { name?: string; message?: string } }).cause;
    const error = cause?.name
      ? { name: cause.name, message: cause.message ?? cause.name }
      : { name: (err as Error).name ?? 'Error', message: errorMessage(err) };
    return {
      ok: false,
      status,
      startDate: started,
      stopDate,
      executionId,
      state: lastWorkflowState(lastOutput),
      error,
      visited,
      durationMs: stopDate - started,
      stateSizes,
    };
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
function checkStateSizes(
  machine: object,
  measure: (state: string, what: 'input' | 'output', value: unknown) => void,
): void {
  const target = machine as {
    execute: (input: unknown, options: { eventLogger: StateEventLogger }, cleanup: unknown) => unknown;
  };
  if (typeof target.execute !== 'function') {
    throw new Error(
      'aws-local-stepfunctions changed: StateMachine#execute is gone (the state size check needs it)',
    );
  }
  const execute = target.execute.bind(machine);
  target.execute = (input, options, cleanup) => {
    const logger = options.eventLogger;
    const refuse = (name: string, type: string, input: unknown, check: () => void) => {
      try {
        check();
      } catch (err) {
        logger.dispatchStateFailedEvent(name, type, input, err as Error);
        throw err;
      }
    };
    const checks: Partial<StateEventLogger> = {
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
        const own = checks[prop as keyof StateEventLogger];
        if (own) return own;
        const v: unknown = Reflect.get(t, prop, receiver);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
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
