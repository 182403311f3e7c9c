import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomUUID } from 'node:crypto';
import * as zlib from 'node:zlib';
import { BackupKeyTakenError, errorMessage } from '../shared/errors';
import { isPreconditionFailed } from '../shared/s3';
import { describeS3Failure, type UploadWatch } from './upload-watch';

/** S3's smallest part (every part but the last) and its most parts per upload. */
export const MIN_PART_SIZE = 5 * 1024 * 1024;
export const MAX_PARTS = 10000;

export interface MultipartWriterOptions {
  s3: S3Client;
  /** Bucket, Key, ContentType and the encryption parameters: what PutObject / CreateMultipartUpload carry. */
  params: Pick<
    PutObjectCommandInput,
    'Bucket' | 'Key' | 'ContentType' | 'ServerSideEncryption' | 'SSEKMSKeyId' | 'BucketKeyEnabled'
  >;
  /** Bytes per part (at least 5 MiB). */
  partSize: number;
  /** Parts in flight at once; the writer holds at most queueSize + 1 part buffers (one being filled). */
  queueSize: number;
  /** Most parts of one object. @default 10,000 (S3's limit; lower only to test reaching it) */
  maxParts?: number;
  /**
   * Create the object, never replace one: the write that creates it (PutObject for one part,
   * CompleteMultipartUpload) carries `If-None-Match: *`, and S3 refuses it if the key exists. Such a refusal
   * fails with BackupKeyTakenError, unless the object at the key is this writer's own (its upload token in the
   * object's metadata): a retried request whose first attempt went through. @default false
   */
  createOnly?: boolean;
}

/** The object metadata that names the writer that created it (see MultipartWriterOptions.createOnly). */
export const UPLOAD_TOKEN_METADATA = 'pgshift-upload';

/**
 * Node's native CRC32 (zlib.crc32, Node 20.15+; Lambda's runtimes have it). Each part's CRC32 is computed as its
 * bytes are copied in, while they are still in the CPU's cache, and sent as the part's ChecksumCRC32: the SDK
 * would otherwise read the whole 8 MiB part again when it builds the request (~2× the CPU, measured in
 * docs/performance.md "Part checksums as the bytes arrive"). Without it the SDK computes the CRC32 itself.
 */
const nativeCrc32: ((data: Uint8Array, value?: number) => number) | undefined =
  typeof zlib.crc32 === 'function' ? zlib.crc32 : undefined;

/** S3's x-amz-checksum-crc32: the CRC32's four bytes, big-endian, in base64. */
export function crc32Base64(crc: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(crc >>> 0);
  return bytes.toString('base64');
}

/** The build step's request is an HTTP request (its headers a plain record); the SDK types it `unknown`. */
function hasHeaders(request: unknown): request is { headers: Record<string, string> } {
  return (
    typeof request === 'object' &&
    request !== null &&
    'headers' in request &&
    typeof request.headers === 'object' &&
    request.headers !== null
  );
}

/**
 * Sends every UploadPart with `x-amz-content-sha256: UNSIGNED-PAYLOAD` (still a signed header): the part's
 * integrity is checked by S3 against the CRC32 sent with it (ChecksumAlgorithm CRC32), at half the
 * CPU of the SHA-256 a signed payload costs. This is what the SDK itself does for streamed bodies
 * (STREAMING-UNSIGNED-PAYLOAD-TRAILER); see docs/performance.md "Backup: where the CPU goes".
 */
function unsignedPayload(command: UploadPartCommand): UploadPartCommand {
  command.middlewareStack.add(
    (next) => (args) => {
      if (hasHeaders(args.request)) args.request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      return next(args);
    },
    { step: 'build', name: 'pgshiftUnsignedPartPayload' },
  );
  return command;
}

/**
 * A multipart upload fed by `write(chunk)` in order. Bytes are copied once, into part buffers that are
 * allocated as needed and then reused (memory stays at (queueSize + 1) × partSize however large the object, and no
 * per-part garbage is left for the collector); full parts are uploaded with at most `queueSize` in flight.
 * The multipart upload is created with the first full part; an object smaller than one part is a single
 * PutObject. After `write` returns false the caller pauses its source until `onDrain`. The first S3 failure
 * is recorded (which call, which part, S3's code) and rejects `failed`; `abort()` then removes the parts.
 * `watch` says what happened on S3, for the error a person reads.
 */
export class MultipartWriter {
  readonly watch: UploadWatch = { aborted: false };
  /** Bytes and parts S3 has acknowledged. */
  readonly uploaded = { bytes: 0, parts: 0 };
  /** Rejects with the first S3 error; never resolves. */
  readonly failed: Promise<never>;

  private readonly free: Buffer[] = [];
  private allocated = 0;
  private current: Buffer | undefined;
  private filled = 0;
  /** CRC32 of current[0, filled), when computed here (nativeCrc32). */
  private currentCrc = 0;
  private overflow: Buffer[] = [];
  private nextPart = 1;
  private readonly parts: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  /** Full parts waiting for a free upload slot. */
  private ready: { buf: Buffer; length: number; partNumber: number; crc: number }[] = [];
  private created: Promise<string> | undefined;
  private failure: unknown;
  private rejectFailed!: (err: unknown) => void;
  private drainWaiter: (() => void) | undefined;
  /** This writer's mark on the object it creates (createOnly), to know its own object from another's. */
  private readonly token = randomUUID();

  constructor(private readonly options: MultipartWriterOptions) {
    if (options.partSize < MIN_PART_SIZE) {
      throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes (S3's minimum part size)`);
    }
    if (!(options.queueSize >= 1)) throw new RangeError('queueSize must be at least 1');
    this.failed = new Promise<never>((_, reject) => (this.rejectFailed = reject));
    this.failed.catch(() => undefined);
  }

  /** Copies `chunk` into the current part; false means "pause the source until onDrain". */
  write(chunk: Buffer): boolean {
    if (this.failure !== undefined) return true;
    if (this.overflow.length > 0) {
      this.overflow.push(chunk);
      return false;
    }
    this.copyIn(chunk);
    return this.overflow.length === 0;
  }

  /** Called once when a paused source may resume. */
  onDrain(fn: () => void): void {
    this.drainWaiter = fn;
  }

  private copyIn(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (!this.current) {
        const buf = this.free.pop() ?? this.allocate();
        if (!buf) {
          this.overflow.push(chunk.subarray(offset));
          return;
        }
        this.current = buf;
        this.filled = 0;
        this.currentCrc = 0;
      }
      const n = chunk.copy(this.current, this.filled, offset);
      if (nativeCrc32) this.currentCrc = nativeCrc32(chunk.subarray(offset, offset + n), this.currentCrc);
      this.filled += n;
      offset += n;
      if (this.filled === this.options.partSize) this.sendCurrent();
    }
  }

  /** A new part buffer while fewer than queueSize + 1 exist (a small dump never allocates them all). */
  private allocate(): Buffer | undefined {
    if (this.allocated > this.options.queueSize) return undefined;
    this.allocated += 1;
    return Buffer.allocUnsafeSlow(this.options.partSize);
  }

  private sendCurrent(): void {
    const buf = this.current;
    if (!buf) return;
    const length = this.filled;
    const crc = this.currentCrc;
    this.current = undefined;
    this.filled = 0;
    const partNumber = this.nextPart++;
    const maxParts = this.options.maxParts ?? MAX_PARTS;
    if (partNumber > maxParts) {
      // pgshift's own stop, not S3's answer: no S3 failure is recorded.
      this.fail(
        new Error(
          `the dump is larger than ${maxParts} parts of ${this.options.partSize} bytes ` +
            `(${((maxParts * this.options.partSize) / 2 ** 30).toFixed(1)} GiB), the most one S3 object can have: ` +
            'raise the part size (partSize) for this database',
        ),
      );
      return;
    }
    this.ready.push({ buf, length, partNumber, crc });
    this.startReady();
  }

  /** Starts full parts while fewer than queueSize are in flight. */
  private startReady(): void {
    while (
      this.ready.length > 0 &&
      this.inFlight.size < this.options.queueSize &&
      this.failure === undefined
    ) {
      const next = this.ready.shift();
      if (!next) break;
      const { buf, length, partNumber, crc } = next;
      const task = this.uploadPart(buf, length, partNumber, crc).finally(() => {
        this.inFlight.delete(task);
        this.free.push(buf);
        this.startReady();
        this.release();
      });
      this.inFlight.add(task);
    }
  }

  /** A buffer came back: move waiting chunks into it, and let the source go on once nothing waits. */
  private release(): void {
    if (this.failure !== undefined) return;
    const waiting = this.overflow;
    this.overflow = [];
    for (const [i, chunk] of waiting.entries()) {
      if (this.overflow.length > 0) {
        this.overflow.push(...waiting.slice(i));
        break;
      }
      this.copyIn(chunk);
    }
    if (this.overflow.length === 0 && this.drainWaiter) {
      const fn = this.drainWaiter;
      this.drainWaiter = undefined;
      fn();
    }
  }

  private uploadId(): Promise<string> {
    this.created ??= this.call('CreateMultipartUploadCommand', undefined, async () => {
      const out = await this.options.s3.send(
        new CreateMultipartUploadCommand({ ...this.objectParams(), ChecksumAlgorithm: 'CRC32' }),
      );
      if (!out.UploadId) throw new Error('CreateMultipartUpload returned no UploadId');
      this.watch.uploadId = out.UploadId;
      return out.UploadId;
    });
    return this.created;
  }

  private async uploadPart(buf: Buffer, length: number, partNumber: number, crc: number): Promise<void> {
    try {
      const uploadId = await this.uploadId();
      if (this.failure !== undefined) return;
      const out = await this.call('UploadPartCommand', partNumber, () =>
        this.options.s3.send(
          unsignedPayload(
            new UploadPartCommand({
              Bucket: this.options.params.Bucket,
              Key: this.options.params.Key,
              UploadId: uploadId,
              PartNumber: partNumber,
              Body: buf.subarray(0, length),
              ContentLength: length,
              ChecksumAlgorithm: 'CRC32',
              ...(nativeCrc32 ? { ChecksumCRC32: crc32Base64(crc) } : {}),
            }),
          ),
        ),
      );
      this.parts.push({ PartNumber: partNumber, ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32 });
      this.uploaded.bytes += length;
      this.uploaded.parts += 1;
    } catch {
      // recorded by call(); the caller learns it from `failed`
    }
  }

  /** Runs one S3 call, recording the first failure (and rejecting `failed`) before rethrowing. */
  private async call<T>(command: string, partNumber: number | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      this.fail(err, command, partNumber);
      throw err;
    }
  }

  /** Records the first failure; `command` names the S3 call when S3 refused, absent for pgshift's own stop. */
  private fail(err: unknown, command?: string, partNumber?: number): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    if (command) this.watch.firstFailure = describeS3Failure(command, partNumber, err);
    this.overflow = [];
    this.ready = [];
    this.rejectFailed(err);
  }

  /** The first failure, as thrown (S3's errors and pgshift's own stop are Errors already). */
  private throwIfFailed(): void {
    if (this.failure === undefined) return;
    throw this.failure instanceof Error ? this.failure : new Error(errorMessage(this.failure));
  }

  /** Uploads what is left and completes the object; rejects with the first S3 error. */
  async finish(): Promise<void> {
    while (this.overflow.length > 0 || this.ready.length > 0 || this.inFlight.size > 0) {
      this.throwIfFailed();
      await Promise.race([...this.inFlight, this.failed]);
    }
    this.throwIfFailed();
    const { s3, params } = this.options;
    if (this.created === undefined) {
      // Everything fits in one part: one PutObject, as small objects are written.
      const body = this.current ? this.current.subarray(0, this.filled) : Buffer.alloc(0);
      await this.createObject('PutObjectCommand', () =>
        s3.send(
          new PutObjectCommand({
            ...this.objectParams(),
            ...this.ifNoneMatch(),
            Body: body,
            ContentLength: body.length,
          }),
        ),
      );
      this.uploaded.bytes += body.length;
      this.uploaded.parts = 1;
      return;
    }
    if (this.filled > 0) this.sendCurrent();
    while (this.ready.length > 0 || this.inFlight.size > 0) {
      this.throwIfFailed();
      await Promise.race([...this.inFlight, this.failed]);
    }
    this.throwIfFailed();
    const uploadId = await this.created;
    const parts = [...this.parts].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    await this.createObject('CompleteMultipartUploadCommand', () =>
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: params.Bucket,
          Key: params.Key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
          ...this.ifNoneMatch(),
        }),
      ),
    );
  }

  /** What the object is created with: the caller's parameters, and with createOnly this writer's token. */
  private objectParams(): MultipartWriterOptions['params'] & { Metadata?: Record<string, string> } {
    const { params, createOnly } = this.options;
    return createOnly ? { ...params, Metadata: { [UPLOAD_TOKEN_METADATA]: this.token } } : params;
  }

  private ifNoneMatch(): { IfNoneMatch?: string } {
    return this.options.createOnly ? { IfNoneMatch: '*' } : {};
  }

  /**
   * The write that creates the object. With createOnly, S3's 412 means the key exists: this writer's own
   * object when a retried request's first attempt went through (its token is on it), else another writer's,
   * which stays as it is (BackupKeyTakenError; the multipart upload is the caller's to abort).
   */
  private async createObject(command: string, send: () => Promise<unknown>): Promise<void> {
    try {
      await send();
      return;
    } catch (err) {
      if (!this.options.createOnly || !isPreconditionFailed(err)) {
        this.fail(err, command);
        throw err;
      }
      if (await this.keyHoldsOwnObject()) return;
      const key = this.options.params.Key ?? '';
      const taken = new BackupKeyTakenError(
        `S3 refused ${command} for ${key}: another writer created that key first (If-None-Match: *); it was not overwritten`,
        { cause: err, details: { key } },
      );
      this.fail(taken, command);
      throw taken;
    }
  }

  private async keyHoldsOwnObject(): Promise<boolean> {
    const { Bucket, Key } = this.options.params;
    try {
      const head = await this.options.s3.send(new HeadObjectCommand({ Bucket, Key }));
      return head.Metadata?.[UPLOAD_TOKEN_METADATA] === this.token;
    } catch {
      return false;
    }
  }

  /**
   * Stops the upload and removes its parts: waits for the parts in flight (a part landing after the abort
   * would be kept), then AbortMultipartUpload. Records whether the abort went through; never throws.
   */
  async abort(reason?: unknown): Promise<void> {
    if (this.failure === undefined) {
      this.failure = reason ?? new Error('upload aborted');
      this.rejectFailed(this.failure);
    }
    this.overflow = [];
    this.ready = [];
    await Promise.allSettled([...this.inFlight]);
    if (this.created === undefined) return;
    const uploadId = await this.created.catch(() => undefined);
    if (!uploadId) return;
    try {
      await this.options.s3.send(
        new AbortMultipartUploadCommand({
          Bucket: this.options.params.Bucket,
          Key: this.options.params.Key,
          UploadId: uploadId,
        }),
      );
      this.watch.aborted = true;
    } catch (err) {
      this.watch.abortError = describeS3Failure('AbortMultipartUploadCommand', undefined, err);
    }
  }
}
