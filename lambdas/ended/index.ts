export { onExecutionEnded, type EndedDeps, type EndedOutcome, type ExecutionStatusChange } from './ended';
