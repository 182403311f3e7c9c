/**
 * The byte budget of the workflow state, enforced here and nowhere else (docs/workflow.md "Output budget").
 *
 * Step Functions refuses a state input or output over 256 KiB with States.DataLimitExceeded, which no
 * `States.ALL` Catch sees: the run would end without "Notify failure". Every step handler therefore returns
 * through {@link withStepBudget}: an output over its budget is written whole to S3 (SSE-KMS) and the state keeps
 * it minus its largest fields, plus `spilled: { key, bytes, sha256, counts }`. Readers that need the whole
 * output (pre-flight's analyses, the report, the CLI) go through {@link loadStepOutput} / {@link loadStepResults}.
 */
import { createHash } from 'node:crypto';
import { SpilledOutputUnreadableError, StepOutputTooLargeError, errorMessage } from './errors';
import { isRecord } from './is-record';
import { spilledOutputKey } from './keys';
import type { Log } from './logger';
import { getText, isNotFound, putText, type ObjectStore } from './s3';
import { spilledRefSchema, type StepOutput, type StepResultName, type StepResults } from './step-outputs';
import { parseStepOutput, parseStepResults } from './step-parse';

/** Step Functions' limit on a state's input or output: 262,144 bytes of UTF-8 JSON. */
export const STATE_LIMIT_BYTES = 262_144;
/** The most one step's output may add to the state. */
export const STEP_OUTPUT_BUDGET_BYTES = 32 * 1024;
/**
 * The most the state (input, execution, every result) may reach through step outputs. The rest of the 256 KiB
 * is headroom for what no step controls: a caught error at `$.error`/`$.reportError` and the failure path's
 * payload, which carries the whole state once more.
 */
export const STATE_BUDGET_BYTES = 160 * 1024;
/** The validated execution input's limit: it travels in every state and every Task payload. */
export const INPUT_BUDGET_BYTES = 16 * 1024;
/** A thrown error's message is cut to this: it lands in the state as `$.error.Cause`. */
export const ERROR_MESSAGE_BUDGET_BYTES = 8 * 1024;

/**
 * Fields the state machine's Choice states and later steps read from a result: never moved out of the state
 * (`ok`, `blocking`, `databaseSizeBytes`, the backup's `key`/`manifestKey`, `written` keys...).
 */
export const KEPT_FIELDS: readonly string[] = [
  'step',
  'ok',
  'operation',
  'phase',
  'database',
  'blocking',
  'databaseSizeBytes',
  'key',
  'manifestKey',
  'written',
  'htmlUrl',
];

/** How a spilled output is named in the state. `counts` gives each field moved out its item count. */
export interface SpilledRef {
  key: string;
  bytes: number;
  sha256: string;
  /** Items of each field left out of the state: array length, object keys, string characters. */
  counts: Record<string, number>;
}

/** UTF-8 bytes of a value's JSON, as Step Functions counts them. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value) ?? '', 'utf8');
}

function itemCount(value: unknown): number {
  if (Array.isArray(value)) return value.length;
  if (typeof value === 'string') return value.length;
  if (value !== null && typeof value === 'object') return Object.keys(value).length;
  return 1;
}

/** The part of an event that is the workflow state: a StepEvent, or the failure path's `{ state, execution }`. */
interface StateView {
  state: Record<string, unknown>;
  database?: string;
  executionName: string;
  params: Record<string, unknown>;
}

function recordOf(value: unknown): Record<string, unknown> {
  return isRecord(value) ? value : {};
}

function stateView(event: unknown): StateView {
  const e = recordOf(event);
  const state = isRecord(e.state) ? e.state : { input: e.input, execution: e.execution, results: e.results };
  const database = recordOf(state.input).database;
  const execution = recordOf(e.execution ?? state.execution);
  const id = typeof execution.id === 'string' ? execution.id : 'execution';
  return {
    state,
    database: typeof database === 'string' ? database : undefined,
    executionName: typeof execution.name === 'string' ? execution.name : (id.split(':').pop() ?? id),
    params: recordOf(e.params),
  };
}

/** `<step>[-<operation>][-<phase>][-<step param>]`: one key per state of an execution. */
function spillLabel(step: string, params: Record<string, unknown>): string {
  const parts = [step, params.operation, params.phase, params.step].filter(
    (p): p is string => typeof p === 'string' && p.length > 0,
  );
  return parts.join('-').replace(/[^A-Za-z0-9._-]/g, '_');
}

export interface FitOptions {
  /** The function's step name (PGSHIFT_STEP): the key's label starts with it (its IAM grant is per step). */
  step: string;
  /** Where to spill; without one an oversized output is a StepOutputTooLargeError. */
  store?: ObjectStore;
  log?: Pick<Log, 'warn'>;
}

/**
 * The output as the state may carry it: unchanged when it fits `min(STEP_OUTPUT_BUDGET_BYTES, what the state
 * has left of STATE_BUDGET_BYTES)`, else written whole to S3 and returned without its largest fields (never
 * those in KEPT_FIELDS) and with `spilled`. Throws StepOutputTooLargeError when even that does not fit.
 */
export async function fitStepOutput(
  options: FitOptions,
  event: unknown,
  output: StepOutput,
): Promise<StepOutput> {
  const view = stateView(event);
  const stateBytes = jsonBytes(view.state);
  const allowed = Math.min(STEP_OUTPUT_BUDGET_BYTES, STATE_BUDGET_BYTES - stateBytes);
  const bytes = jsonBytes(output);
  if (bytes <= allowed) return output;

  const database = view.database ?? (typeof output.database === 'string' ? output.database : 'unknown');
  const what = `The ${options.step} step's output (${bytes} bytes)`;
  if (!options.store) {
    throw new StepOutputTooLargeError(
      `${what} is over the ${allowed} bytes the workflow state has room for, and this function has no bucket to ` +
        `put it in. The step's work finished; the run stops here (database ${database}).`,
      { details: { step: options.step, bytes, allowed } },
    );
  }
  const key = spilledOutputKey(database, view.executionName, spillLabel(options.step, view.params));
  const body = JSON.stringify(output);
  await putText(options.store, key, body, 'application/json');
  const spilled: SpilledRef = {
    key,
    bytes: Buffer.byteLength(body, 'utf8'),
    sha256: createHash('sha256').update(body).digest('hex'),
    counts: {},
  };
  const reduced: StepOutput = { ...output, spilled };
  const movable = Object.keys(output)
    .filter((f) => !KEPT_FIELDS.includes(f))
    .map((f) => ({ f, size: jsonBytes(output[f]) }))
    .sort((a, b) => b.size - a.size || a.f.localeCompare(b.f));
  for (const { f } of movable) {
    if (jsonBytes(reduced) <= allowed) break;
    spilled.counts[f] = itemCount(output[f]);
    delete reduced[f];
  }
  const left = jsonBytes(reduced);
  if (left > allowed) {
    throw new StepOutputTooLargeError(
      `${what} does not fit the workflow state even with every large field moved to S3: what the state must ` +
        `keep is ${left} bytes, ${allowed} allowed (the state already holds ${stateBytes} bytes). The step's work ` +
        `finished; its complete output is at ${key} (database ${database}).`,
      { details: { step: options.step, bytes, allowed, kept: left, stateBytes, key } },
    );
  }
  options.log?.warn('step output moved to S3: over the state budget', {
    step: options.step,
    key,
    bytes,
    allowed,
    keptBytes: left,
    moved: Object.keys(spilled.counts),
  });
  return reduced;
}

/** An error whose message would overflow `$.error.Cause`, cut to ERROR_MESSAGE_BUDGET_BYTES (stack too). */
function capErrorMessage(err: unknown, log?: Pick<Log, 'warn'>): unknown {
  if (!(err instanceof Error)) return err;
  const bytes = Buffer.byteLength(err.message, 'utf8');
  if (bytes <= ERROR_MESSAGE_BUDGET_BYTES) return err;
  const full = err.message;
  const head = Buffer.from(full, 'utf8')
    .subarray(0, ERROR_MESSAGE_BUDGET_BYTES - 200)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  err.message = `${head} … (${bytes - Buffer.byteLength(head, 'utf8')} more bytes; the whole message is in the function's log)`;
  const frames = (err.stack ?? '').split('\n').filter((l) => /^\s+at /.test(l));
  err.stack = [`${err.name}: ${err.message}`, ...frames.slice(0, 20)].join('\n');
  log?.warn('error message cut to fit the workflow state', { errorName: err.name, message: full });
  return err;
}

/**
 * The one wrapper every step handler returns through: its output fits the state's budget (spilling to S3 when
 * needed, see {@link fitStepOutput}) and a thrown error's message fits `$.error.Cause`.
 */
export function withStepBudget<E, C extends unknown[]>(
  options: FitOptions,
  handler: (event: E, ...rest: C) => Promise<StepOutput>,
): (event: E, ...rest: C) => Promise<StepOutput> {
  return async (event: E, ...rest: C) => {
    let output: StepOutput;
    try {
      output = await handler(event, ...rest);
    } catch (err) {
      throw capErrorMessage(err, options.log);
    }
    return fitStepOutput(options, event, output);
  };
}

/** The `spilled` reference of a result, when the state carries it without its large fields. */
export function spilledRef(output: unknown): SpilledRef | undefined {
  const parsed = spilledRefSchema.safeParse(recordOf(output).spilled);
  return parsed.success ? parsed.data : undefined;
}

/** A step's whole output: the state's copy, or the object it was spilled to (checked against bytes and sha256). */
export async function loadStepOutput(
  store: ObjectStore,
  output: StepOutput | undefined,
): Promise<StepOutput | undefined> {
  const ref = spilledRef(output);
  if (!ref || !output) return output;
  let body: string;
  try {
    body = await getText(store, ref.key);
  } catch (err) {
    throw new SpilledOutputUnreadableError(
      `The ${output.step} step's output was moved to S3 at ${ref.key}, and reading it failed: ` +
        `${isNotFound(err) ? 'the object does not exist (deleted, or expired by the bucket lifecycle)' : errorMessage(err)}.`,
      { cause: err, details: { key: ref.key } },
    );
  }
  const sha256 = createHash('sha256').update(body).digest('hex');
  if (sha256 !== ref.sha256) {
    throw new SpilledOutputUnreadableError(
      `The ${output.step} step's output at ${ref.key} has changed since the step wrote it ` +
        `(sha256 ${sha256}, recorded ${ref.sha256}); it is not used.`,
      { details: { key: ref.key, sha256, recorded: ref.sha256 } },
    );
  }
  return parseStepOutput(JSON.parse(body), output.step, ref.key);
}

/** One result of the state, whole (see {@link loadStepOutput}) and checked against its step's schema. */
export async function loadStepResult<N extends StepResultName>(
  store: ObjectStore,
  results: StepResults,
  name: N,
): Promise<StepResults[N]> {
  return parseStepResults({ [name]: await loadWhole(store, name, results[name]) })[name];
}

/** Every result of the state, each whole (see {@link loadStepOutput}), checked against its step's schema. */
export async function loadStepResults(store: ObjectStore, results: StepResults): Promise<StepResults> {
  const entries = await Promise.all(
    Object.entries(results).map(async ([name, out]) => [name, await loadWhole(store, name, out)] as const),
  );
  return parseStepResults(Object.fromEntries(entries));
}

/** A result whole when it is a step's output; anything else (a caught error at `migrateStopped`) as it is. */
function loadWhole(store: ObjectStore, name: string, result: unknown): Promise<unknown> {
  return spilledRef(result)
    ? loadStepOutput(store, parseStepOutput(result, name, `results.${name}`))
    : Promise.resolve(result);
}
