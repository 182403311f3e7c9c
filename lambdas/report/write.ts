import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { reportKeys } from '../shared/keys';
import { putText, type ObjectStore } from '../shared/s3';
import type { DatabaseReport } from './build';
import { renderReportHtml, renderReportJson, renderReportMarkdown } from './render';

export interface WrittenReport {
  written: { json: string; markdown: string; html: string };
  /** Pre-signed GET URL of report.html (absent when `presign` is false). */
  htmlUrl?: string;
}

/** SigV4 caps pre-signed URLs at 7 days. */
export const MAX_PRESIGN_SECONDS = 7 * 24 * 3600;

/**
 * A pre-signed GET URL for a report object. It is valid for `expiresInSeconds` or until the signing
 * credentials expire, whichever comes first (a Lambda role's session lasts hours, not days).
 */
export async function presignReportUrl(
  store: ObjectStore,
  key: string,
  expiresInSeconds = 24 * 3600,
): Promise<string> {
  return getSignedUrl(store.s3, new GetObjectCommand({ Bucket: store.bucket, Key: key }), {
    expiresIn: Math.min(Math.max(expiresInSeconds, 1), MAX_PRESIGN_SECONDS),
  });
}

/** Writes report.{json,md,html} under `reports/<db>/<timestamp>/` (SSE-KMS) and pre-signs the HTML. */
export async function writeReport(
  store: ObjectStore,
  report: DatabaseReport,
  options: { presign?: boolean; expiresInSeconds?: number } = {},
): Promise<WrittenReport> {
  const keys = reportKeys(report.database, new Date(report.generatedAt));
  await Promise.all([
    putText(store, keys.json, renderReportJson(report), 'application/json'),
    putText(store, keys.md, renderReportMarkdown(report), 'text/markdown; charset=utf-8'),
    putText(store, keys.html, renderReportHtml(report), 'text/html; charset=utf-8'),
  ]);
  const written = { json: keys.json, markdown: keys.md, html: keys.html };
  if (options.presign === false) return { written };
  return { written, htmlUrl: await presignReportUrl(store, keys.html, options.expiresInSeconds) };
}
