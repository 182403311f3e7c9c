import { Readable } from 'node:stream';
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { z } from 'zod';
import { errorName } from './errors';

/** Where pgshift writes: one bucket, SSE-KMS with the stack's key (the bucket policy rejects anything else). */
export interface ObjectStore {
  s3: S3Client;
  bucket: string;
  /** KMS key id/ARN; when absent, objects still ask for aws:kms and S3 uses the bucket's default key. */
  kmsKeyId?: string;
}

export interface S3ClientOptions {
  /** A local S3-compatible endpoint (fauxqs, MinIO...): path-style addressing is used with it. */
  endpoint?: string;
  region?: string;
}

/** Builds the S3 client; `AWS_ENDPOINT_URL_S3` is honoured by the SDK itself when no endpoint is passed. */
export function createS3Client(options: S3ClientOptions = {}): S3Client {
  const endpoint = options.endpoint ?? process.env.AWS_ENDPOINT_URL_S3;
  return new S3Client({
    region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  });
}

/** The encryption parameters every PutObject / CreateMultipartUpload carries. */
export function encryptionParams(
  store: Pick<ObjectStore, 'kmsKeyId'>,
): Pick<PutObjectCommandInput, 'ServerSideEncryption' | 'SSEKMSKeyId' | 'BucketKeyEnabled'> {
  return {
    ServerSideEncryption: 'aws:kms',
    ...(store.kmsKeyId ? { SSEKMSKeyId: store.kmsKeyId } : {}),
    BucketKeyEnabled: true,
  };
}

/** `createOnly`: S3 refuses (412, see isPreconditionFailed) when the key exists instead of overwriting it. */
export interface PutOptions {
  createOnly?: boolean;
}

export async function putText(
  store: ObjectStore,
  key: string,
  body: string,
  contentType: string,
  options: PutOptions = {},
): Promise<void> {
  await store.s3.send(
    new PutObjectCommand({
      Bucket: store.bucket,
      Key: key,
      Body: body,
      ContentType: contentType,
      ...encryptionParams(store),
      ...(options.createOnly ? { IfNoneMatch: '*' } : {}),
    }),
  );
}

/** The JSON text putJson writes for `value` (compare with what is stored). */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + '\n';
}

export async function putJson(
  store: ObjectStore,
  key: string,
  value: unknown,
  options: PutOptions = {},
): Promise<void> {
  await putText(store, key, jsonText(value), 'application/json', options);
}

/** The object's body as a Node stream (for piping into pg_restore or a hash). */
export async function getObjectStream(store: ObjectStore, key: string): Promise<Readable> {
  const res = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  if (!res.Body) throw new Error(`S3 object ${key} has no body`);
  // In Node the SDK's body is the HTTP response, a Readable.
  if (!(res.Body instanceof Readable)) throw new Error(`S3 object ${key}'s body is not a Node stream`);
  return res.Body;
}

export async function getText(store: ObjectStore, key: string): Promise<string> {
  const res = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: key }));
  if (!res.Body) throw new Error(`S3 object ${key} has no body`);
  return res.Body.transformToString('utf8');
}

export async function getJson<T>(store: ObjectStore, key: string): Promise<T> {
  return JSON.parse(await getText(store, key)) as T;
}

/** True when S3 says the key does not exist (NoSuchKey / NotFound / 404). */
export function isNotFound(err: unknown): boolean {
  const name = errorName(err);
  return name === 'NoSuchKey' || name === 'NotFound' || hasHttpStatus(err, 404);
}

/** An SDK error whose response had this HTTP status. */
function hasHttpStatus(err: unknown, status: number): boolean {
  return z.object({ $metadata: z.object({ httpStatusCode: z.literal(status) }) }).safeParse(err).success;
}

/** S3 refused a conditional write (If-None-Match: * on a key that exists): 412 Precondition Failed. */
export function isPreconditionFailed(err: unknown): boolean {
  return errorName(err) === 'PreconditionFailed' || hasHttpStatus(err, 412);
}

/** Every key under a prefix, following continuation tokens. */
export async function listKeys(
  store: ObjectStore,
  prefix: string,
): Promise<{ key: string; size: number; lastModified?: Date }[]> {
  const out: { key: string; size: number; lastModified?: Date }[] = [];
  let token: string | undefined;
  do {
    const res = await store.s3.send(
      new ListObjectsV2Command({ Bucket: store.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const o of res.Contents ?? []) {
      if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified });
    }
    token = res.IsTruncated ? res.NextContinuationToken : undefined;
  } while (token);
  return out;
}
