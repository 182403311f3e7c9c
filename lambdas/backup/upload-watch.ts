import type { S3Client } from '@aws-sdk/client-s3';

/** The first S3 call of an upload that failed, as S3 answered it. */
export interface S3Failure {
  /** The SDK command, e.g. "UploadPartCommand". */
  command: string;
  partNumber?: number;
  /** S3's error code ("AccessDenied", "KMS.DisabledException"...). */
  code: string;
  message: string;
  httpStatus?: number;
  requestId?: string;
}

/** What one multipart upload did on S3, seen from the calls it made. */
export interface UploadWatch {
  /** The client to give lib-storage's Upload: the same client, its `send` observed. */
  client: S3Client;
  firstFailure?: S3Failure;
  uploadId?: string;
  /** AbortMultipartUpload went through (S3 dropped the parts). */
  aborted: boolean;
  abortError?: S3Failure;
}

function describe(command: string, input: { PartNumber?: number }, err: unknown): S3Failure {
  const e = err as {
    name?: string;
    Code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  return {
    command,
    ...(input.PartNumber !== undefined ? { partNumber: input.PartNumber } : {}),
    code: e.Code ?? e.name ?? 'Error',
    message: e.message ?? String(err),
    httpStatus: e.$metadata?.httpStatusCode,
    requestId: e.$metadata?.requestId,
  };
}

/**
 * Watches the S3 calls of one upload (lib-storage reports only the error, not which part failed or whether
 * its abort went through): a Proxy over the shared client whose `send` records the first failure, the upload
 * id and the abort. Nothing else of the client changes.
 */
export function watchUpload(s3: S3Client): UploadWatch {
  const watch: UploadWatch = { client: s3, aborted: false };
  watch.client = new Proxy(s3, {
    get(target, prop, receiver) {
      if (prop !== 'send') return Reflect.get(target, prop, receiver) as unknown;
      return async (
        command: { constructor: { name: string }; input: { PartNumber?: number } },
        ...rest: unknown[]
      ) => {
        const name = command.constructor.name;
        try {
          const out =
            (await (target.send as (...a: unknown[]) => Promise<{ UploadId?: string }>)(command, ...rest)) ??
            {};
          if (name === 'CreateMultipartUploadCommand') watch.uploadId = out.UploadId;
          if (name === 'AbortMultipartUploadCommand') watch.aborted = true;
          return out;
        } catch (err) {
          const failure = describe(name, command.input, err);
          if (name === 'AbortMultipartUploadCommand') watch.abortError = failure;
          else watch.firstFailure ??= failure;
          throw err;
        }
      };
    },
  });
  return watch;
}

/** One sentence on what S3 refused and what is left in the bucket, for the operator who must look at S3. */
export function s3FailureText(
  watch: UploadWatch,
  where: { bucket: string; key: string },
  uploaded: { bytes: number; parts: number },
): string {
  const f = watch.firstFailure as S3Failure;
  const what = f.partNumber !== undefined ? `part ${f.partNumber}` : f.command.replace(/Command$/, '');
  const status = f.httpStatus
    ? ` (HTTP ${f.httpStatus}${f.requestId ? `, request id ${f.requestId}` : ''})`
    : '';
  const left = !watch.uploadId
    ? 'no multipart upload had been started: nothing was left'
    : watch.aborted
      ? 'the multipart upload was aborted: nothing was left'
      : `the multipart upload ${watch.uploadId} could NOT be aborted (${watch.abortError ? `${watch.abortError.code}: ${watch.abortError.message}` : 'no abort was sent'}): its parts still cost storage; run "aws s3api abort-multipart-upload --bucket ${where.bucket} --key ${where.key} --upload-id ${watch.uploadId}" or rely on an AbortIncompleteMultipartUpload lifecycle rule`;
  return (
    `S3 refused ${what} of the upload to s3://${where.bucket}/${where.key}: ${f.code}: ${f.message}${status}. ` +
    `${uploaded.bytes} bytes (${uploaded.parts} parts) had been uploaded; ${left}, and no manifest was written. ` +
    'pgshift stopped pg_dump after the upload failed: the database is fine; look at S3 (bucket policy, KMS key, ' +
    "the role's s3:PutObject and kms:GenerateDataKey permissions)"
  );
}
