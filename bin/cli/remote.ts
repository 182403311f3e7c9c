import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  DescribeExecutionCommand,
  GetExecutionHistoryCommand,
  SFNClient,
  StartExecutionCommand,
  type HistoryEvent,
} from '@aws-sdk/client-sfn';
import { z } from 'zod';
import { ConfigurationError, PgshiftError, errorName } from '../../lambdas/shared/errors';
import type { ExecutionInput } from '../../lambdas/shared/input';
import type { StepResults } from '../../lambdas/shared/step';
import { resultsOfState } from '../../lambdas/shared/step-parse';

/** The stack output that names the state machine (lib/pgshift-stack.ts). */
export const STATE_MACHINE_OUTPUT = 'StateMachineArn';

export interface RemoteClients {
  sfn: SFNClient;
  cloudformation: CloudFormationClient;
}

export function remoteClients(region?: string): RemoteClients {
  return { sfn: new SFNClient({ region }), cloudformation: new CloudFormationClient({ region }) };
}

/** The state machine's ARN: given, or read from the deployed stack's outputs. */
export async function findStateMachineArn(
  clients: RemoteClients,
  options: { stateMachineArn?: string; stackName?: string },
): Promise<string> {
  if (options.stateMachineArn) return options.stateMachineArn;
  const stackName = options.stackName ?? 'Pgshift';
  let outputs;
  try {
    const res = await clients.cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = res.Stacks?.[0]?.Outputs ?? [];
  } catch (err) {
    throw new ConfigurationError(
      `Cannot read stack ${stackName} (${errorName(err)}): deploy it first or pass --state-machine-arn`,
      { cause: err },
    );
  }
  const arn = outputs.find((o) => o.OutputKey === STATE_MACHINE_OUTPUT)?.OutputValue;
  if (!arn) throw new ConfigurationError(`Stack ${stackName} has no ${STATE_MACHINE_OUTPUT} output`);
  return arn;
}

/** A failed execution, with the error name the failing state raised (so the CLI can map its exit code). */
export class ExecutionFailedError extends PgshiftError {
  override name: string = 'ExecutionFailedError';
  constructor(
    readonly executionArn: string,
    readonly status: string,
    readonly stepError: string | undefined,
    cause: string | undefined,
  ) {
    super(
      `execution ${status.toLowerCase()}: ${stepError ?? 'unknown error'}${cause ? ` (${summariseCause(cause)})` : ''}`,
      {
        details: { executionArn, status, error: stepError, cause },
      },
    );
    // The name is the step's error, so `outcomeOf` maps it like a local run (refused → 3, ...).
    if (stepError) this.name = stepError;
  }
}

const causeSchema = z.object({ errorMessage: z.string().optional(), message: z.string().optional() });

/** Step Functions passes a Lambda error's cause as a JSON string: show its message. */
function summariseCause(cause: string): string {
  try {
    const parsed = causeSchema.safeParse(JSON.parse(cause));
    return (parsed.success ? (parsed.data.errorMessage ?? parsed.data.message) : undefined) ?? cause;
  } catch {
    return cause;
  }
}

export async function startExecution(
  clients: RemoteClients,
  stateMachineArn: string,
  input: ExecutionInput,
): Promise<string> {
  const res = await clients.sfn.send(
    new StartExecutionCommand({ stateMachineArn, input: JSON.stringify(input) }),
  );
  if (!res.executionArn) throw new Error('StartExecution returned no executionArn');
  return res.executionArn;
}

export interface ExecutionStatus {
  executionArn: string;
  status: string;
  startDate?: string;
  stopDate?: string;
  output?: unknown;
  error?: string;
  cause?: string;
  /** States entered so far, in order. */
  states: string[];
}

/** Every event of an execution's history, page by page. */
async function* historyEvents(clients: RemoteClients, executionArn: string): AsyncGenerator<HistoryEvent> {
  let nextToken: string | undefined;
  do {
    const res = await clients.sfn.send(
      new GetExecutionHistoryCommand({ executionArn, nextToken, maxResults: 1000 }),
    );
    yield* res.events ?? [];
    nextToken = res.nextToken;
  } while (nextToken);
}

async function enteredStates(clients: RemoteClients, executionArn: string): Promise<string[]> {
  const states: string[] = [];
  for await (const e of historyEvents(clients, executionArn)) {
    const name = e.stateEnteredEventDetails?.name;
    if (name) states.push(name);
  }
  return states;
}

export async function describeExecution(
  clients: RemoteClients,
  executionArn: string,
): Promise<ExecutionStatus> {
  const res = await clients.sfn.send(new DescribeExecutionCommand({ executionArn }));
  const output: unknown = res.output ? JSON.parse(res.output) : undefined;
  return {
    executionArn,
    status: res.status ?? 'UNKNOWN',
    startDate: res.startDate?.toISOString(),
    stopDate: res.stopDate?.toISOString(),
    output,
    error: res.error,
    cause: res.cause,
    states: await enteredStates(clients, executionArn),
  };
}

/** Follows an execution until it stops, reporting each newly entered state; resolves with the final status. */
export async function waitForExecution(
  clients: RemoteClients,
  executionArn: string,
  onState: (state: string, index: number) => void,
  { pollMs = 2000, sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms)) } = {},
): Promise<ExecutionStatus> {
  let seen = 0;
  for (;;) {
    const status = await describeExecution(clients, executionArn);
    status.states.slice(seen).forEach((state, i) => onState(state, seen + i));
    seen = status.states.length;
    if (status.status !== 'RUNNING' && status.status !== 'PENDING_REDRIVE') return status;
    await sleep(pollMs);
  }
}

/**
 * The output of the last state that exited (a failed execution has no output of its own): what the CLI reads
 * a failed dry run's plan from.
 */
export async function lastStateOutput(clients: RemoteClients, executionArn: string): Promise<unknown> {
  let last: string | undefined;
  for await (const e of historyEvents(clients, executionArn)) {
    const output = e.stateExitedEventDetails?.output;
    if (output && output.includes('"results"')) last = output;
  }
  if (last === undefined) return undefined;
  try {
    const output: unknown = JSON.parse(last);
    return output;
  } catch {
    return undefined;
  }
}

/** The step results a failed execution reached (its last state output's), checked as an output's are. */
export async function lastStateResults(
  clients: RemoteClients,
  executionArn: string,
): Promise<StepResults | undefined> {
  return resultsOfState(await lastStateOutput(clients, executionArn));
}
