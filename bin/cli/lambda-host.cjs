'use strict';
/**
 * The function's side of bin/cli/function-host.ts, in a child process or a worker thread: plays the part of the Lambda Node.js runtime for one
 * function. It loads `_HANDLER` ("<file>.<export>") from LAMBDA_TASK_ROOT — the function's asset copied out of
 * the repository, so nothing resolves into the repo's node_modules — and serves invocations over IPC, warm
 * between them as Lambda keeps an execution environment warm. Plain CommonJS on purpose: it must run under
 * `node` alone, with no loader, as the runtime does.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const path = require('node:path');
const vm = require('node:vm');
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

const CODE_CACHE_DIR = (process.argv.find((a) => a.startsWith('--code-cache=')) || '').slice(
  '--code-cache='.length,
);
/** Writes V8's code cache of the handler module once the first invocation has compiled what it runs. */
let saveCodeCache;
/** How the handler module was loaded: 'off', 'miss', 'hit' or 'rejected' (sent with 'ready'). */
let codeCacheUse = 'off';

/**
 * `require` of the handler module, with V8's compiled code kept in CODE_CACHE_DIR: a cold start deserializes
 * it instead of parsing and compiling the bundle (about half of a function's ~160 ms start here). What runs is
 * the same source, wrapped and given `require` as Node's CommonJS loader does; V8 rejects a cache made from
 * another source or with other flags, and the module is then compiled as usual and the cache rewritten. Node
 * 22's module.enableCompileCache does this itself; this host also runs on Node 20.
 */
function requireHandlerModule(file) {
  const filename = require.resolve(file);
  if (!CODE_CACHE_DIR || path.extname(filename) !== '.js') return require(filename);
  const source = fs.readFileSync(filename, 'utf8');
  const key = crypto.createHash('sha256').update(`${process.version}\0${source}`).digest('hex').slice(0, 32);
  const cacheFile = path.join(CODE_CACHE_DIR, `${key}.v8cache`);
  let cachedData;
  try {
    cachedData = fs.readFileSync(cacheFile);
  } catch {
    cachedData = undefined;
  }
  const mod = new Module(filename, module);
  mod.filename = filename;
  mod.paths = Module._nodeModulePaths(path.dirname(filename));
  registerSourceMap(mod, filename, source);
  const script = new vm.Script(Module.wrap(source), { filename, cachedData });
  Module._cache[filename] = mod;
  const localRequire = (id) => mod.require(id);
  localRequire.resolve = (request, options) => Module._resolveFilename(request, mod, false, options);
  localRequire.cache = Module._cache;
  try {
    script
      .runInThisContext()
      .call(mod.exports, mod.exports, localRequire, mod, filename, path.dirname(filename));
  } catch (err) {
    delete Module._cache[filename];
    throw err;
  }
  mod.loaded = true;
  codeCacheUse = cachedData === undefined ? 'miss' : script.cachedDataRejected ? 'rejected' : 'hit';
  if (codeCacheUse !== 'hit') {
    saveCodeCache = () => {
      saveCodeCache = undefined;
      try {
        fs.mkdirSync(CODE_CACHE_DIR, { recursive: true });
        const tmp = `${cacheFile}.${process.pid}.${Date.now()}.tmp`;
        fs.writeFileSync(tmp, script.createCachedData());
        fs.renameSync(tmp, cacheFile);
      } catch {
        // A cache that cannot be written costs the next cold start its compile time, nothing else.
      }
    };
  }
  return mod.exports;
}

/**
 * With --enable-source-maps (the functions' NODE_OPTIONS) Node maps stack frames through the source map it
 * recorded when its own loader compiled the file; vm.Script records none, and traces would point into the
 * bundle. So Node's loader first compiles a one-line module for the same file that names the same map, and
 * Node records it (test/infra/deployed-artifacts.test.ts checks a trace names the TypeScript source).
 */
function registerSourceMap(mod, filename, source) {
  if (!process.sourceMapsEnabled) return;
  const url = /\/\/[#@] sourceMappingURL=([^\s'"]+)\s*$/.exec(source.slice(-4096));
  if (url) mod._compile(`//# sourceMappingURL=${url[1]}\n`, filename);
}

function loadHandler() {
  const spec = process.env._HANDLER;
  const root = process.env.LAMBDA_TASK_ROOT;
  if (!spec || !root) throw new Error('lambda-host: _HANDLER and LAMBDA_TASK_ROOT must be set');
  const dot = spec.lastIndexOf('.');
  const file = spec.slice(0, dot);
  const name = spec.slice(dot + 1);
  let mod;
  try {
    mod = requireHandlerModule(path.join(root, file));
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
  let outcome;
  try {
    const result = await handler(JSON.parse(msg.event), context);
    // Lambda returns the JSON serialization of the result: Dates become strings, undefined becomes null.
    outcome = { ok: true, json: JSON.stringify(result === undefined ? null : result) };
  } catch (err) {
    outcome = { ok: false, error: errorPayload(err) };
  }
  // Before the result: the host may end this environment as soon as it has it.
  if (saveCodeCache) saveCodeCache();
  send({ type: 'result', id: msg.id, ...outcome });
});

// Like the runtime, an unhandled rejection ends the environment (the parent reports Runtime.ExitError); in a
// worker thread process.exit ends the thread alone.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(
    `lambda-host: unhandled rejection: ${reason && reason.stack ? reason.stack : reason}\n`,
  );
  process.exit(128);
});

send({ type: 'ready', codeCache: codeCacheUse });
