import { fork, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { ProgressEvent } from '../../lambdas/shared/progress';

/** The child side (plain CommonJS, run by `node` with no loader). */
const LAMBDA_HOST = path.join(__dirname, 'lambda-host.cjs');

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

type HostMessage =
  | { type: 'ready' }
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

/**
 * One Lambda execution environment in a child process: started on the first invocation (cold), reused for
 * the next (warm), replaced after a timeout or a crash, as the Lambda service does. The child runs
 * `node` with no loader and no inherited flags, in the asset folder, with only the given environment.
 */
export class FunctionHost {
  private child: ChildProcess | undefined;
  private pending = new Map<
    string,
    { child: ChildProcess; resolve: (v: unknown) => void; reject: (e: Error) => void }
  >();

  constructor(private readonly options: FunctionHostOptions) {}

  private start(): ChildProcess {
    const o = this.options;
    const child = fork(LAMBDA_HOST, [], {
      cwd: o.taskRoot,
      env: { ...o.env, LAMBDA_TASK_ROOT: o.taskRoot, _HANDLER: o.handler },
      execArgv: o.nodeArgs ?? [],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    child.stdout?.on('data', lines(o.onLog, 'stdout'));
    child.stderr?.on('data', lines(o.onLog, 'stderr'));
    child.on('message', (msg: HostMessage) => {
      if (msg.type === 'progress') o.onProgress?.(msg.event);
      if (msg.type !== 'result') return;
      const waiter = this.pending.get(msg.id);
      if (!waiter) return;
      this.pending.delete(msg.id);
      if (msg.ok) waiter.resolve(JSON.parse(msg.json ?? 'null'));
      else {
        const e = msg.error ?? { errorType: 'Error', errorMessage: 'unknown error' };
        waiter.reject(new FunctionError(e.errorType, e.errorMessage, e.trace));
      }
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      for (const [id, waiter] of this.pending) {
        if (waiter.child !== child) continue;
        this.pending.delete(id);
        waiter.reject(
          new FunctionError(
            'Runtime.ExitError',
            `${o.name}: the function's process exited (${signal ?? `code ${code}`}) before it returned`,
          ),
        );
      }
    });
    this.child = child;
    return child;
  }

  /** Invokes the function once; rejects with a FunctionError carrying the function's own error name. */
  async invoke(event: unknown): Promise<unknown> {
    const child = this.child ?? this.start();
    const id = randomUUID();
    const timeoutMs = this.options.timeoutSeconds * 1000;
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        // Lambda ends the environment at its timeout; the next invocation starts a fresh one.
        if (this.child === child) this.child = undefined;
        child.kill('SIGKILL');
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
      this.pending.set(id, { child, resolve: done(resolve), reject: done(reject) });
      child.send({
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

  /** Ends the environment (the child process). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 2000).unref();
    });
  }
}
