'use strict';
/**
 * The function's side of bin/cli/function-host.ts, in a child process or a worker thread: plays the part of the Lambda Node.js runtime for one
 * function. It loads `_HANDLER` ("<file>.<export>") from LAMBDA_TASK_ROOT — the function's asset copied out of
 * the repository, so nothing resolves into the repo's node_modules — and serves invocations over IPC, warm
 * between them as Lambda keeps an execution environment warm. Plain CommonJS on purpose: it must run under
 * `node` alone, with no loader, as the runtime does.
 */
const path = require('node:path');
const { isMainThread, parentPort } = require('node:worker_threads');

const PROGRESS = Symbol.for('pgshift.progressListener');

/** The channel to the host: IPC in a child process, the worker's port in a thread. */
const channel = isMainThread
  ? {
      send: (message) => process.send && process.send(message),
      onMessage: (listener) => process.on('message', listener),
    }
  : {
      send: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', listener),
    };

function send(message) {
  channel.send(message);
}

// pgshift's progress events (bytes dumped, migration N of M) travel to the parent for the CLI's display.
globalThis[PROGRESS] = (event) => send({ type: 'progress', event });

function loadHandler() {
  const spec = process.env._HANDLER;
  const root = process.env.LAMBDA_TASK_ROOT;
  if (!spec || !root) throw new Error('lambda-host: _HANDLER and LAMBDA_TASK_ROOT must be set');
  const dot = spec.lastIndexOf('.');
  const file = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  let mod;
  try {
    mod = require(path.join(root, file));
  } catch (err) {
    const e = new Error(`Cannot load handler module ${file} from the function's code: ${err.message}`);
    e.name = 'Runtime.ImportModuleError';
    throw e;
  }
  const fn = mod[name];
  if (typeof fn !== 'function') {
    const e = new Error(`${file}.${name} is undefined or not exported`);
    e.name = 'Runtime.HandlerNotFound';
    throw e;
  }
  return fn;
}

let handler;
let initError;
try {
  handler = loadHandler();
} catch (err) {
  initError = err;
}

function errorPayload(err) {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    errorType: e.name || 'Error',
    errorMessage: e.message || String(err),
    trace: String(e.stack || '').split('\n'),
  };
}

channel.onMessage(async (msg) => {
  if (!msg || msg.type !== 'invoke') return;
  if (initError) {
    send({ type: 'result', id: msg.id, ok: false, error: errorPayload(initError) });
    return;
  }
  const deadline = msg.deadline;
  const context = {
    awsRequestId: msg.requestId,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: '$LATEST',
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    invokedFunctionArn: msg.functionArn,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(JSON.parse(msg.event), context);
    // Lambda returns the JSON serialization of the result: Dates become strings, undefined becomes null.
    send({
      type: 'result',
      id: msg.id,
      ok: true,
      json: JSON.stringify(result === undefined ? null : result),
    });
  } catch (err) {
    send({ type: 'result', id: msg.id, ok: false, error: errorPayload(err) });
  }
});

// Like the runtime, an unhandled rejection ends the environment (the parent reports Runtime.ExitError); in a
// worker thread process.exit ends the thread alone.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(
    `lambda-host: unhandled rejection: ${reason && reason.stack ? reason.stack : reason}\n`,
  );
  process.exit(128);
});

send({ type: 'ready' });
