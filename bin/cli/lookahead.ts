import { isRecord } from '../../lambdas/shared/is-record';

type AslModule = typeof import('aws-local-stepfunctions');
type Definition = import('aws-local-stepfunctions').StateMachineDefinition;
type Json = Parameters<InstanceType<AslModule['StateMachine']>['run']>[0];

/** A definition's outline, as aws-local-stepfunctions takes it (it validates the rest itself). */
export function isStateMachineDefinition(value: unknown): value is Definition {
  return isRecord(value) && isRecord(value.States) && typeof value.StartAt === 'string';
}

/** The Error of the Fail states that stand for the states lookahead stops at. */
const REACHED = 'pgshift.Lookahead.Reached';
/** States that do work or take time: lookahead stops at the first one (Pass and Choice it follows). */
const STOPS = new Set(['Task', 'Parallel', 'Map', 'Wait']);

/**
 * Which Task state an execution will probably enter after `stateName` (a top-level Task), found by the
 * interpreter itself: aws-local-stepfunctions runs from the state's Next with the state's *input* standing for
 * its output (not known yet), and every Task, Parallel, Map and Wait state turned into a Fail state that names
 * it. So Choice rules on what came before (`$.input.action`, an earlier step's result) are evaluated exactly;
 * a rule on the running state's own result is a guess. Undefined at the end of the machine, for a state that
 * is not a top-level Task, or when the run ends elsewhere (a Fail, Succeed, or an error).
 *
 * Used only to prepare something early (`pgshift local` starts the next function's environment while a state
 * runs): a wrong guess costs that preparation, never the execution's correctness.
 */
export class NextTaskLookahead {
  private readonly machines = new Map<string, InstanceType<AslModule['StateMachine']> | undefined>();

  constructor(
    private readonly StateMachine: AslModule['StateMachine'],
    private readonly definition: Record<string, unknown>,
  ) {}

  async after(stateName: string, input: Json, context: Record<string, unknown>): Promise<string | undefined> {
    const machine = this.machineAfter(stateName);
    if (!machine) return undefined;
    try {
      await machine.run(input, { context }).result;
      return undefined;
    } catch (err) {
      const cause: unknown = err instanceof Error ? err.cause : undefined;
      if (!(cause instanceof Error) || cause.name !== REACHED) return undefined;
      return cause.message;
    }
  }

  private machineAfter(stateName: string): InstanceType<AslModule['StateMachine']> | undefined {
    if (this.machines.has(stateName)) return this.machines.get(stateName);
    const machine = this.build(stateName);
    this.machines.set(stateName, machine);
    return machine;
  }

  private build(stateName: string): InstanceType<AslModule['StateMachine']> | undefined {
    const states = this.definition.States;
    if (!isRecord(states)) return undefined;
    const from = states[stateName];
    if (!isRecord(from) || from.Type !== 'Task' || typeof from.Next !== 'string') return undefined;
    const shadow: Record<string, unknown> = {};
    for (const [name, state] of Object.entries(states)) {
      shadow[name] =
        isRecord(state) && typeof state.Type === 'string' && STOPS.has(state.Type)
          ? { Type: 'Fail', Error: REACHED, Cause: name }
          : state;
    }
    const definition = { StartAt: from.Next, States: shadow };
    if (!isStateMachineDefinition(definition)) return undefined;
    // The real definition was validated (or remembered as valid) by the run itself; this one differs only in
    // states turned into Fail states.
    return new this.StateMachine(definition, { validationOptions: { checkArn: false, noValidate: true } });
  }
}
