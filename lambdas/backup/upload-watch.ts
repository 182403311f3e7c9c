import { z } from 'zod';

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
  firstFailure?: S3Failure;
  uploadId?: string;
  /** AbortMultipartUpload went through (S3 dropped the parts). */
  aborted: boolean;
  abortError?: S3Failure;
}

/** The fields of an SDK error pgshift reports (S3ServiceException and plain errors alike). */
const sdkErrorShape = z.object({
  name: z.string().optional(),
  Code: z.string().optional(),
  message: z.string().optional(),
  $metadata: z.object({ httpStatusCode: z.number().optional(), requestId: z.string().optional() }).optional(),
});

/** An S3 error as the SDK raised it, reduced to what a person needs: the call, the part and S3's answer. */
export function describeS3Failure(command: string, partNumber: number | undefined, err: unknown): S3Failure {
  const e = sdkErrorShape.safeParse(err);
  const fields = e.success ? e.data : {};
  return {
    command,
    ...(partNumber !== undefined ? { partNumber } : {}),
    code: fields.Code ?? fields.name ?? 'Error',
    message: fields.message ?? String(err),
    httpStatus: fields.$metadata?.httpStatusCode,
    requestId: fields.$metadata?.requestId,
  };
}

/**
 * The multipart upload a failed backup left open in the bucket, and how to remove it; undefined when none was
 * started or it was aborted.
 */
export function openUploadText(
  watch: UploadWatch,
  where: { bucket: string; key: string },
): string | undefined {
  if (!watch.uploadId || watch.aborted) return undefined;
  return `the multipart upload ${watch.uploadId} could NOT be aborted (${watch.abortError ? `${watch.abortError.code}: ${watch.abortError.message}` : 'no abort was sent'}): its parts still cost storage; run "aws s3api abort-multipart-upload --bucket ${where.bucket} --key ${where.key} --upload-id ${watch.uploadId}" or rely on an AbortIncompleteMultipartUpload lifecycle rule`;
}

/** One sentence on what S3 refused and what is left in the bucket, for the operator who must look at S3. */
export function s3FailureText(
  watch: UploadWatch,
  where: { bucket: string; key: string },
  uploaded: { bytes: number; parts: number },
): string {
  const f = watch.firstFailure ?? {
    command: 'the upload',
    code: 'Error',
    message: 'no S3 failure was recorded',
  };
  const what = f.partNumber !== undefined ? `part ${f.partNumber}` : f.command.replace(/Command$/, '');
  const status = f.httpStatus
    ? ` (HTTP ${f.httpStatus}${f.requestId ? `, request id ${f.requestId}` : ''})`
    : '';
  const left =
    openUploadText(watch, where) ??
    (watch.uploadId
      ? 'the multipart upload was aborted: nothing was left'
      : 'no multipart upload had been started: nothing was left');
  return (
    `S3 refused ${what} of the upload to s3://${where.bucket}/${where.key}: ${f.code}: ${f.message}${status}. ` +
    `${uploaded.bytes} bytes (${uploaded.parts} parts) had been uploaded; ${left}, and no manifest was written. ` +
    'pgshift stopped pg_dump after the upload failed: the database is fine; look at S3 (bucket policy, KMS key, ' +
    "the role's s3:PutObject and kms:GenerateDataKey permissions)"
  );
}
