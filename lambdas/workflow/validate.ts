import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { InputValidationError, MigrationLockedError } from '../shared/errors';
import { parseExecutionInput, type ExecutionInput } from '../shared/input';
import type { StepEvent } from '../shared/step';
import { INPUT_BUDGET_BYTES, jsonBytes } from '../shared/step-budget';

export interface ValidatedExecution {
  input: ExecutionInput;
  execution: StepEvent['execution'];
  results: Record<string, never>;
}

export interface ValidateOptions {
  /** The configured database (PGSHIFT_DATABASE); fills `input.database` when the input names none. */
  defaultDatabase?: string;
  /** Lists other RUNNING executions for the same database; absent locally (one process, one run). */
  findConcurrentRuns?: (database: string | undefined) => Promise<string[]>;
}

/**
 * The workflow's first state: validates the execution input once (every problem listed), fills defaults and
 * refuses to start while another execution works on the same database. The advisory lock in the database
 * protects apply; this check also protects backup and restore, which take no such lock.
 */
export async function validateExecution(
  raw: unknown,
  execution: StepEvent['execution'],
  options: ValidateOptions = {},
): Promise<ValidatedExecution> {
  // The input travels in every state and every Task payload: it gets a fixed part of the state's budget.
  const bytes = jsonBytes(raw);
  if (bytes > INPUT_BUDGET_BYTES) {
    throw new InputValidationError([
      `the execution input is ${bytes} bytes; at most ${INPUT_BUDGET_BYTES} (it is carried by every state of the workflow)`,
    ]);
  }
  const parsed = parseExecutionInput(raw);
  const input: ExecutionInput = { ...parsed, database: parsed.database ?? options.defaultDatabase };
  const others = (await options.findConcurrentRuns?.(input.database)) ?? [];
  if (others.length > 0) {
    throw new MigrationLockedError(
      `Another pgshift execution is running on database ${input.database ?? '(default)'}: ${others.join(', ')}. ` +
        'Wait for it to finish; nothing was changed.',
      { details: { running: others } },
    );
  }
  return { input, execution, results: {} };
}

/**
 * Other RUNNING executions of this state machine for `database` (the input's database, or the default one
 * when an input names none). Reads at most 100 running executions: pgshift never has that many.
 */
export async function findRunningExecutions(
  sfn: SFNClient,
  stateMachineArn: string,
  currentExecutionArn: string,
  database: string | undefined,
  defaultDatabase: string | undefined,
): Promise<string[]> {
  const listed = await sfn.send(
    new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', maxResults: 100 }),
  );
  const others = (listed.executions ?? []).filter(
    (e) => e.executionArn && e.executionArn !== currentExecutionArn,
  );
  const same: string[] = [];
  for (const { executionArn } of others) {
    if (!executionArn) continue;
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn }));
    let otherDatabase: string | undefined;
    try {
      const input: unknown = JSON.parse(described.input ?? '{}');
      const named =
        typeof input === 'object' && input !== null && 'database' in input ? input.database : undefined;
      otherDatabase = typeof named === 'string' ? named : undefined;
    } catch {
      otherDatabase = undefined;
    }
    if ((otherDatabase ?? defaultDatabase) === database) same.push(executionArn);
  }
  return same;
}
