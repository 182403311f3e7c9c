import type { StepEvent } from '../../lambdas/shared/step';

export interface StepEventOptions {
  /** The execution's name, the last segment of its ARN. @default "test" */
  execution?: string;
  /** `execution.name` when it differs from the ARN's last segment. @default execution */
  name?: string;
  /** The state machine's name inside the ARN. @default "pgshift" */
  stateMachine?: string;
  params?: StepEvent['params'];
  results?: StepEvent['results'];
}

/** The event the state machine hands a step's handler (execution ARN in the rig's test account). */
export function stepEvent(input: StepEvent['input'], options: StepEventOptions = {}): StepEvent {
  const execution = options.execution ?? 'test';
  return {
    input,
    execution: {
      id: `arn:aws:states:us-east-1:000000000000:execution:${options.stateMachine ?? 'pgshift'}:${execution}`,
      name: options.name ?? execution,
    },
    ...(options.params ? { params: options.params } : {}),
    ...(options.results ? { results: options.results } : {}),
  };
}
