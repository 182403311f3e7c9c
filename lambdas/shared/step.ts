import type { ExecutionInput } from './input';

/**
 * What every Lambda step receives from the state machine (and what the local runner passes in-process):
 * the validated input, the execution's identity, and the outputs of earlier steps keyed by step name.
 */
export interface StepEvent {
  input: ExecutionInput;
  execution: {
    /** Step Functions execution ARN, or `local-<timestamp>` for local runs: recorded as `execution_id`. */
    id: string;
    name?: string;
    startTime?: string;
  };
  /** Earlier steps' outputs, e.g. `results.backup.key`; each step documents its own output type. */
  results?: Record<string, unknown>;
}

/** Every step's output says what it did and where it wrote it; the next step and the report read this. */
export interface StepOutput {
  step: string;
  ok: boolean;
  /** S3 keys of everything this step wrote. */
  written?: Record<string, string>;
  [field: string]: unknown;
}
