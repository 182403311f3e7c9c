import type { ChildProcess } from 'node:child_process';

/** How a child process ended. `error` is set when it could not be started at all (ENOENT...). */
export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** Resolves once the process has exited and its stdio closed; never rejects. */
export function waitForExit(child: ChildProcess): Promise<ExitStatus> {
  return new Promise((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (err) => {
      spawnError = err;
      // A process that never started emits no 'close' on some Node versions.
      if (child.pid === undefined) resolve({ code: null, signal: null, error: err });
    });
    child.once('close', (code, signal) => resolve({ code, signal, error: spawnError }));
  });
}

/** Keeps the last `limit` bytes of a child's stderr (enough to explain a failure, bounded for huge outputs). */
export function collectStderr(child: ChildProcess, limit = 16 * 1024): () => string {
  let text = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    text += d;
    if (text.length > limit * 2) text = text.slice(-limit);
  });
  return () => (text.length > limit ? '…' + text.slice(-limit) : text).trim();
}

export function describeExit(tool: string, status: ExitStatus): string {
  if (status.error) return `${tool} could not run (${status.error.message})`;
  if (status.signal) return `${tool} was killed by ${status.signal}`;
  return `${tool} exited with code ${status.code}`;
}

export function exitedCleanly(status: ExitStatus): boolean {
  return !status.error && status.signal === null && status.code === 0;
}
