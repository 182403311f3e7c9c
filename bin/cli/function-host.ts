import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import type { ProgressEvent } from '../../lambdas/shared/progress';

/** The function's side (plain CommonJS, run by `node` or a worker thread with no loader). */
const LAMBDA_HOST = path.join(__dirname, 'lambda-host.cjs');

/**
 * Where a function's execution environment lives: a child process of its own (`process`), or a worker thread
 * of this process (`thread`: one V8 isolate and event loop, its own `process.env` and module registry, ~40 MB
 * less than a process; docs/decisions.md, "Functions in worker threads").
 */
export type FunctionIsolation = 'process' | 'thread';

export interface FunctionHostOptions {
  /** A label for errors and logs: the function's logical id. */
  name: string;
  /** The function's code as deployed: its asset folder, copied out of the repository. */
  taskRoot: string;
  /** `<file>.<export>`, the template's Handler (or the image's CMD). */
  handler: string;
  /** The whole environment of the child: nothing of this process's environment leaks in. */
  env: Record<string, string>;
  /** The template's Timeout, in seconds. */
  timeoutSeconds: number;
  functionArn?: string;
  onProgress?: (event: ProgressEvent) => void;
  /** Each line the function writes (Powertools' JSON logs on stdout, anything on stderr). */
  onLog?: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Flags for the child's `node` (V8's heap sizing only: the code and its environment stay the deployed
   * ones). @default none
   */
  nodeArgs?: string[];
  /**
   * `thread` runs the function in a worker thread unless its environment needs a process of its own
   * (`threadRefusal`). @default 'process'
   */
  isolation?: FunctionIsolation;
  /**
   * A folder for V8's compiled code of the function's handler module, so that a cold start does not compile
   * the same 2.5 MB bundle again (bin/cli/lambda-host.cjs). The function's code and environment are
   * unchanged: V8 checks the cache against the source and its flags, and compiles afresh when they differ.
   * @default no cache
   */
  codeCacheDir?: string;
  /** Told when an environment starts (a cold start begins) and when one has ended. */
  onEnvironment?: (change: 'started' | 'ended') => void;
}

/** An error as the Lambda service reports it: `errorType` is what a state's Retry/Catch matches. */
export class FunctionError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
    readonly trace: string[] = [],
  ) {
    super(message);
    this.name = errorType;
  }
}

/**
 * How the last cold start loaded the handler module: `hit` from V8's code cache, `miss` compiled (no cache
 * yet), `rejected` compiled (a cache of another source or other flags), `off` no cache folder given.
 */
export type CodeCacheUse = 'hit' | 'miss' | 'rejected' | 'off';

/** What the environment sends back (bin/cli/lambda-host.cjs). */
type HostMessage =
  | { type: 'ready'; codeCache?: CodeCacheUse }
  | { type: 'progress'; event: ProgressEvent }
  | {
      type: 'result';
      id: string;
      ok: boolean;
      json?: string;
      error?: { errorType: string; errorMessage: string; trace?: string[] };
    };

function lines(onLog: FunctionHostOptions['onLog'], stream: 'stdout' | 'stderr') {
  let rest = '';
  return (chunk: Buffer) => {
    const text = rest + chunk.toString('utf8');
    const parts = text.split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) onLog?.(line, stream);
  };
}

/** NODE_OPTIONS flags a worker thread applies itself (Worker's execArgv); any other needs a process. */
const THREAD_NODE_OPTIONS = new Set(['--enable-source-maps']);

/** V8 heap flags a worker thread applies as its resource limits (a young generation is 3 semi-spaces). */
function threadLimits(nodeArgs: readonly string[]): ResourceLimits | undefined {
  const limits: ResourceLimits = {};
  for (const arg of nodeArgs) {
    const semi = /^--max-semi-space-size=(\d+)$/.exec(arg)?.[1];
    const old = /^--max-old-space-size=(\d+)$/.exec(arg)?.[1];
    if (semi !== undefined) limits.maxYoungGenerationSizeMb = 3 * Number(semi);
    else if (old !== undefined) limits.maxOldGenerationSizeMb = Number(old);
    else return undefined;
  }
  return limits;
}

/** The IANA zone a TZ value names (`:UTC` as Lambda sets it), or undefined when Intl does not know it. */
function zoneOf(tz: string | undefined): string | undefined {
  try {
    const timeZone = tz?.replace(/^:/, '');
    return new Intl.DateTimeFormat('en-US', timeZone ? { timeZone } : {}).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/**
 * Why a function cannot run in a worker thread of this process, or undefined when it can. A thread shares
 * the process's time zone (TZ is read once per process) and its V8 flags, so a function whose TZ names
 * another zone, whose NODE_OPTIONS holds a flag a thread cannot apply, or whose heap flags are other than
 * the heap limits a thread takes, gets a process of its own: it then runs exactly as before.
 */
export function threadRefusal(
  env: Record<string, string>,
  nodeArgs: readonly string[] = [],
): string | undefined {
  const flags = (env.NODE_OPTIONS ?? '').split(/\s+/).filter((f) => f !== '');
  const processWide = flags.filter((f) => !THREAD_NODE_OPTIONS.has(f));
  if (processWide.length > 0) return `NODE_OPTIONS ${processWide.join(' ')} applies to a whole process`;
  if (env.TZ !== undefined && zoneOf(env.TZ) !== zoneOf(undefined)) {
    return `TZ ${env.TZ} is not this process's time zone (${zoneOf(undefined) ?? 'unknown'})`;
  }
  if (!threadLimits(nodeArgs)) return `node flags ${nodeArgs.join(' ')} apply to a whole process`;
  return undefined;
}

/** One running execution environment, whichever isolation holds it. */
interface Environment {
  send(message: Record<string, unknown>): void;
  /** Ends it at once (a timeout). */
  kill(): void;
  /** Ends it and resolves once it has ended. */
  stop(): Promise<void>;
}

interface EnvironmentEvents {
  onMessage: (message: HostMessage) => void;
  onExit: (why: string) => void;
}

function pipeLogs(o: FunctionHostOptions, stdout: Readable | null, stderr: Readable | null): void {
  stdout?.on('data', lines(o.onLog, 'stdout'));
  stderr?.on('data', lines(o.onLog, 'stderr'));
}

/** The function's whole environment: the given one plus what the runtime sets to find the handler. */
function runtimeEnv(o: FunctionHostOptions): Record<string, string> {
  return { ...o.env, LAMBDA_TASK_ROOT: o.taskRoot, _HANDLER: o.handler };
}

/** lambda-host's own arguments (never the function's environment): the code cache's folder. */
function hostArgs(o: FunctionHostOptions): string[] {
  return o.codeCacheDir ? [`--code-cache=${o.codeCacheDir}`] : [];
}

function startProcess(o: FunctionHostOptions, events: EnvironmentEvents): Environment {
  const child = fork(LAMBDA_HOST, hostArgs(o), {
    cwd: o.taskRoot,
    env: runtimeEnv(o),
    execArgv: o.nodeArgs ?? [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  });
  pipeLogs(o, child.stdout, child.stderr);
  child.on('message', events.onMessage);
  child.on('exit', (code, signal) => events.onExit(signal ?? `code ${code}`));
  return {
    send: (message) => child.send(message),
    kill: () => child.kill('SIGKILL'),
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 2000).unref();
      });
    },
  };
}

/**
 * A worker thread whose `process.env` is the function's whole environment (Worker's `env`): nothing of this
 * process's environment is visible to it, and what it spawns (pg_dump) inherits that environment. Its cwd
 * stays this process's (a thread cannot chdir): the functions resolve their files from LAMBDA_TASK_ROOT.
 */
function startThread(o: FunctionHostOptions, events: EnvironmentEvents): Environment {
  const flags = (o.env.NODE_OPTIONS ?? '').split(/\s+/).filter((f) => f !== '');
  const worker = new Worker(LAMBDA_HOST, {
    env: runtimeEnv(o),
    argv: hostArgs(o),
    execArgv: flags,
    resourceLimits: threadLimits(o.nodeArgs ?? []),
    stdout: true,
    stderr: true,
  });
  pipeLogs(o, worker.stdout, worker.stderr);
  let ended = false;
  worker.on('message', events.onMessage);
  worker.on('error', (err) => o.onLog?.(`lambda-host: ${err.stack ?? err.message}`, 'stderr'));
  worker.on('exit', (code) => {
    ended = true;
    events.onExit(`code ${code}`);
  });
  return {
    send: (message) => worker.postMessage(message),
    kill: () => void worker.terminate(),
    stop: async () => {
      if (!ended) await worker.terminate();
    },
  };
}

/**
 * One Lambda execution environment: started on the first invocation (cold), reused for the next (warm),
 * replaced after a timeout or a crash, as the Lambda service does. It runs the asset's handler with no
 * loader and no inherited flags, with only the given environment, in a child process or (isolation
 * `thread`, when `threadRefusal` finds nothing against it) in a worker thread.
 */
export class FunctionHost {
  private environment: Environment | undefined;
  private pending = new Map<
    string,
    { environment: Environment; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();
  /** How this function runs, decided once from its environment. */
  readonly isolation: FunctionIsolation;
  /** How the latest cold start loaded the code (undefined before the first one is ready). */
  codeCache: CodeCacheUse | undefined;

  constructor(private readonly options: FunctionHostOptions) {
    this.isolation =
      options.isolation === 'thread' && threadRefusal(options.env, options.nodeArgs) === undefined
        ? 'thread'
        : 'process';
  }

  private start(): Environment {
    const events: EnvironmentEvents = {
      onMessage: (msg) => this.received(msg),
      // Called once the environment has started (an exit is never synchronous), so `environment` is set.
      onExit: (why) => {
        if (this.environment === environment) this.environment = undefined;
        this.ended(environment, why);
        this.options.onEnvironment?.('ended');
      },
    };
    const environment =
      this.isolation === 'thread' ? startThread(this.options, events) : startProcess(this.options, events);
    this.environment = environment;
    this.options.onEnvironment?.('started');
    return environment;
  }

  private received(msg: HostMessage): void {
    if (msg.type === 'progress') this.options.onProgress?.(msg.event);
    if (msg.type === 'ready') this.codeCache = msg.codeCache ?? 'off';
    if (msg.type !== 'result') return;
    const waiter = this.pending.get(msg.id);
    if (!waiter) return;
    this.pending.delete(msg.id);
    if (msg.ok) waiter.resolve(JSON.parse(msg.json ?? 'null'));
    else {
      const e = msg.error ?? { errorType: 'Error', errorMessage: 'unknown error' };
      waiter.reject(new FunctionError(e.errorType, e.errorMessage, e.trace));
    }
  }

  private ended(environment: Environment, why: string): void {
    for (const [id, waiter] of this.pending) {
      if (waiter.environment !== environment) continue;
      this.pending.delete(id);
      waiter.reject(
        new FunctionError(
          'Runtime.ExitError',
          `${this.options.name}: the function's ${this.isolation} exited (${why}) before it returned`,
        ),
      );
    }
  }

  /**
   * Starts an environment now, before an invocation needs it (its init, the handler module loaded, then runs
   * beside whatever else is running, as with provisioned concurrency); the next `invoke` finds it ready or
   * starting. Nothing when one is running.
   */
  warm(): void {
    if (!this.environment) this.start();
  }

  /** Invokes the function once; rejects with a FunctionError carrying the function's own error name. */
  async invoke(event: unknown): Promise<unknown> {
    const environment = this.environment ?? this.start();
    const id = randomUUID();
    const timeoutMs = this.options.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        // Lambda ends the environment at its timeout; the next invocation starts a fresh one.
        if (this.environment === environment) this.environment = undefined;
        environment.kill();
        reject(
          new FunctionError(
            'Sandbox.Timedout',
            `${this.options.name}: Task timed out after ${this.options.timeoutSeconds}.00 seconds`,
          ),
        );
      }, timeoutMs);
      const done =
        <T>(f: (v: T) => void) =>
        (v: T) => {
          clearTimeout(timer);
          f(v);
        };
      this.pending.set(id, { environment, resolve: done(resolve), reject: done(reject) });
      environment.send({
        type: 'invoke',
        id,
        requestId: id,
        event: JSON.stringify(event ?? null),
        deadline,
        functionArn: this.options.functionArn,
      });
    });
  }

  /** True while an invocation is running (the environment must not be ended then). */
  get busy(): boolean {
    return this.pending.size > 0;
  }

  /** Ends the environment (the child process or the worker thread). */
  async stop(): Promise<void> {
    const environment = this.environment;
    this.environment = undefined;
    await environment?.stop();
  }
}
