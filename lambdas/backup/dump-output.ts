import { execFile, type ChildProcess } from 'node:child_process';
import { close, constants as fsConstants, open } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket, type OnReadOpts, type SocketConstructorOpts } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/** One read of pg_dump's output; the chunk is a view of a reused buffer, valid only until this returns. */
export type DumpChunkSink = (chunk: Buffer) => boolean;

/**
 * Where pg_dump writes and how pgshift reads it. `fifo`: pg_dump writes `--file=<fifo>` and pgshift reads the
 * FIFO into one reused 256 KiB buffer; `pipe`: pg_dump's stdout as Node's child pipe (a new buffer per read),
 * used where `mkfifo` is missing.
 */
export interface DumpOutput {
  readonly kind: 'fifo' | 'pipe';
  /** pg_dump's arguments naming its output (none for stdout). */
  readonly args: string[];
  /** How pg_dump's stdout is set up in spawn. */
  readonly stdout: 'pipe' | 'ignore';
  /** Starts reading `child`'s output into `sink`; once `sink` returns false, reading waits for `resume`. */
  attach(child: ChildProcess, sink: DumpChunkSink): void;
  resume(): void;
  /** Resolves once every byte pg_dump wrote was read (or reading failed: see readError); never rejects. */
  readonly ended: Promise<void>;
  /** The first failed read: bytes were lost even if pg_dump exits 0. */
  readonly readError: Error | undefined;
  /** Stops reading and removes the FIFO and its directory: called in every outcome. */
  close(): Promise<void>;
}

const READ_BUFFER_BYTES = 256 * 1024;
const execFileAsync = promisify(execFile);
// Plain descriptors, not FileHandles: the socket owns the read end's descriptor and closes it (a FileHandle
// would close it again when collected).
const openFd = promisify(open);
const closeFd = promisify(close);

/**
 * A FIFO for pg_dump's output when the system has `mkfifo`, else pg_dump's stdout pipe. `toolEnv` (the
 * backup's tool environment) may set PATH and TMPDIR, which win over the process's.
 */
export async function openDumpOutput(toolEnv: NodeJS.ProcessEnv = {}): Promise<DumpOutput> {
  const env = { ...process.env, ...toolEnv };
  const dir = await mkdtemp(path.join(toolEnv.TMPDIR ?? tmpdir(), 'pgshift-dump-'));
  const fifo = path.join(dir, 'dump.fifo');
  try {
    await execFileAsync('mkfifo', ['-m', '600', fifo], { env });
  } catch {
    await rm(dir, { recursive: true, force: true });
    return stdoutOutput();
  }
  return fifoOutput(dir, fifo);
}

/**
 * Why non-blocking: a blocking open of a FIFO waits for a writer, and a blocking read for data, each holding one
 * of the process's four libuv threadpool threads (shared with fs, crypto and dns of all code, worker threads
 * included) for as long as pg_dump is silent, or for ever when pg_dump dies before it opens the FIFO. Opened
 * with O_NONBLOCK and read through a net.Socket, the FIFO is watched by the event loop (epoll), like any pipe,
 * and `onread` reads into the one buffer given. After pg_dump exits pgshift opens and closes the write end
 * itself, so the reader always sees end-of-file, also when pg_dump never opened the FIFO.
 */
async function fifoOutput(dir: string, fifo: string): Promise<DumpOutput> {
  const fd = await openFd(fifo, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  const buffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  let sink: DumpChunkSink = () => true;
  let readError: Error | undefined;
  // Node's Socket takes `onread` in its constructor too (as in net.connect), which @types/node does not declare.
  const socketOptions: SocketConstructorOpts & { onread: OnReadOpts } = {
    fd,
    readable: true,
    writable: false,
    onread: { buffer, callback: (length) => sink(buffer.subarray(0, length)) },
  };
  const socket = new Socket(socketOptions);
  const ended = new Promise<void>((resolve) => {
    socket.once('end', resolve);
    socket.once('close', resolve);
    socket.once('error', (err) => {
      readError ??= err;
      resolve();
    });
  });
  let closed = false;
  return {
    kind: 'fifo',
    // --no-sync: pg_dump fsyncs a --file it wrote, which a FIFO refuses (EINVAL) and which nothing here needs.
    args: [`--file=${fifo}`, '--no-sync'],
    stdout: 'ignore',
    attach(child, chunkSink) {
      sink = chunkSink;
      child.once('exit', () => void releaseReader(fifo, () => closed));
      child.once('error', () => void releaseReader(fifo, () => closed));
    },
    resume() {
      socket.resume();
    },
    ended,
    get readError() {
      return readError;
    },
    async close() {
      closed = true;
      socket.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Opens and closes the FIFO's write end (non-blocking: a reader exists), so the reader sees end-of-file. */
async function releaseReader(fifo: string, isClosed: () => boolean): Promise<void> {
  if (isClosed()) return;
  try {
    await closeFd(await openFd(fifo, fsConstants.O_WRONLY | fsConstants.O_NONBLOCK));
  } catch {
    // ENXIO (the reader is already gone) or the FIFO was removed: nothing waits for end-of-file.
  }
}

function stdoutOutput(): DumpOutput {
  let readError: Error | undefined;
  let stdout: NodeJS.ReadableStream | undefined;
  let resolveEnded: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (resolveEnded = resolve));
  return {
    kind: 'pipe',
    args: [],
    stdout: 'pipe',
    attach(child, sink) {
      const out = child.stdout;
      if (!out) throw new Error('pg_dump was started without a stdout pipe');
      stdout = out;
      out.once('end', resolveEnded);
      out.once('close', resolveEnded);
      out.on('error', (err) => {
        readError ??= err;
        resolveEnded();
      });
      out.on('data', (chunk: Buffer) => {
        if (!sink(chunk)) out.pause();
      });
    },
    resume() {
      stdout?.resume();
    },
    ended,
    get readError() {
      return readError;
    },
    close() {
      stdout?.removeAllListeners('data');
      stdout?.resume();
      resolveEnded();
      return Promise.resolve();
    },
  };
}
