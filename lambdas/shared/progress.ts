/**
 * Progress of long work (bytes dumped, migration N of M) for whoever watches: the CLI registers a listener and
 * draws it on stderr; in Lambda nobody listens and reporting costs nothing (the logs carry the same facts).
 * The listener lives on globalThis so that handlers loaded in another module registry (tests) still reach it.
 */
export interface ProgressEvent {
  step: string;
  message: string;
  done?: number;
  total?: number;
  bytes?: number;
}

export type ProgressListener = (event: ProgressEvent) => void;

const KEY = Symbol.for('pgshift.progressListener');

function isProgressListener(value: unknown): value is ProgressListener {
  return typeof value === 'function';
}

/** Registers (or, with undefined, removes) the process's progress listener. */
export function setProgressListener(listener: ProgressListener | undefined): void {
  Reflect.set(globalThis, KEY, listener);
}

export function reportProgress(event: ProgressEvent): void {
  const listener: unknown = Reflect.get(globalThis, KEY);
  if (!isProgressListener(listener)) return;
  try {
    listener(event);
  } catch {
    // A broken progress display must never fail the work it describes.
  }
}

/** Byte progress at most every `everyBytes`, so a fast stream does not flood the listener. */
export function byteProgress(
  step: string,
  verb: string,
  everyBytes = 16 * 1024 * 1024,
): (bytes: number) => void {
  let next = everyBytes;
  return (bytes) => {
    if (bytes < next) return;
    next = bytes + everyBytes;
    reportProgress({ step, bytes, message: `${verb} ${(bytes / 1048576).toFixed(0)} MiB` });
  };
}
