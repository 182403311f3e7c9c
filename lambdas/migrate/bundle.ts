import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import * as os from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { MigrationBundleMismatchError, MigrationBundleNotFoundError } from '../shared/errors';
import { encryptionParams, isNotFound, type ObjectStore } from '../shared/s3';
import { loadMigrations } from './files';
import { record } from './parse-tree';
import type { Migration } from './types';

/** Where bundles live in the pgshift bucket; the migrate function may read this prefix and no other writes it. */
export const BUNDLE_PREFIX = 'bundles/';
/** The bundle document's `format`; a change to the document's shape gets a new one. */
export const BUNDLE_FORMAT = 'pgshift-migrations-bundle/1';

/** What the execution input carries (`migrations: { bundle, sha256 }`). */
export interface BundleRef {
  /** `bundles/<sha256>.json` */
  bundle: string;
  /** sha256 (hex) of the object's bytes. */
  sha256: string;
}

/** The object: every `.sql` file of the folder, by name, in name order. */
export interface BundleDocument {
  format: typeof BUNDLE_FORMAT;
  files: { name: string; sql: string }[];
}

/** A packed folder: the bytes to upload, their reference, and the migrations they hold. */
export interface PackedBundle extends BundleRef {
  body: string;
  migrations: Migration[];
  files: string[];
}

/** Where the migrate step's migrations came from; in every migrate output, the plan, the report and the alert. */
export type MigrationSource =
  { source: 'bundle'; bundle: string; sha256: string; count: number } | { source: 'deployed'; count: number };

export function bundleKeyOf(sha256: string): string {
  return `${BUNDLE_PREFIX}${sha256}.json`;
}

function sha256Of(bytes: string | Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A file name a bundle may carry: one path segment, as the folder layout names them. */
const FILE_NAME = /^[A-Za-z0-9][\w.-]*\.sql$/;

/**
 * Validates a migrations folder exactly as the migrate step does (layout, syntax, directives: loadMigrations)
 * and packs its `.sql` files into one JSON document. The same folder always gives the same bytes, so the key
 * (its sha256) names the content.
 */
export async function packMigrations(dir: string): Promise<PackedBundle> {
  const migrations = await loadMigrations(dir);
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith('.sql'))
    .map((e) => e.name)
    .sort();
  const files = await Promise.all(
    names.map(async (name) => ({ name, sql: await readFile(join(dir, name), 'utf8') })),
  );
  const doc: BundleDocument = { format: BUNDLE_FORMAT, files };
  const body = `${JSON.stringify(doc)}\n`;
  const sha256 = sha256Of(body);
  return { body, sha256, bundle: bundleKeyOf(sha256), migrations, files: names };
}

/** Uploads a packed bundle (SSE-KMS). Content-addressed: uploading the same folder twice writes the same object. */
export async function uploadBundle(store: ObjectStore, packed: PackedBundle): Promise<BundleRef> {
  await store.s3.send(
    new PutObjectCommand({
      Bucket: store.bucket,
      Key: packed.bundle,
      Body: packed.body,
      ContentType: 'application/json',
      ...encryptionParams(store),
    }),
  );
  return { bundle: packed.bundle, sha256: packed.sha256 };
}

/**
 * Reads a bundle from the bucket, refuses it unless its bytes hash to `ref.sha256` and its key names that hash,
 * writes its files into a fresh folder under `tmpRoot` and loads them with the same checks as a folder.
 */
export async function loadBundle(
  store: ObjectStore,
  ref: BundleRef,
  tmpRoot: string = os.tmpdir(),
): Promise<{ dir: string; migrations: Migration[] }> {
  if (ref.bundle !== bundleKeyOf(ref.sha256)) {
    throw new MigrationBundleMismatchError(
      `Migrations bundle ${ref.bundle} is not the bundle of sha256 ${ref.sha256} (its key must be ` +
        `${bundleKeyOf(ref.sha256)}). Nothing ran. Pack the folder again: pgshift bundle DIR, or pgshift start ... --migrations DIR.`,
      { details: { bundle: ref.bundle, sha256: ref.sha256 } },
    );
  }
  let bytes: Buffer;
  try {
    const res = await store.s3.send(new GetObjectCommand({ Bucket: store.bucket, Key: ref.bundle }));
    bytes = Buffer.from((await res.Body?.transformToByteArray()) ?? []);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    throw new MigrationBundleNotFoundError(
      `Migrations bundle ${ref.bundle} is not in bucket ${store.bucket}. Nothing ran. Upload it with ` +
        'pgshift bundle DIR (same bucket), or start with --migrations DIR, which uploads it.',
      { cause: err, details: { bundle: ref.bundle, bucket: store.bucket } },
    );
  }
  const actual = sha256Of(bytes);
  if (actual !== ref.sha256) {
    throw new MigrationBundleMismatchError(
      `Migrations bundle ${ref.bundle} hashes to ${actual}, not ${ref.sha256}: it was changed after it was ` +
        'packed. Nothing ran and the database is untouched. Pack the reviewed folder again (pgshift bundle DIR) ' +
        'and find out who wrote to the bundles/ prefix.',
      { details: { bundle: ref.bundle, expected: ref.sha256, actual } },
    );
  }
  const doc = parseBundle(bytes, ref.bundle);
  const dir = await mkdtemp(join(tmpRoot, 'pgshift-bundle-'));
  await mkdir(dir, { recursive: true });
  for (const f of doc.files) await writeFile(join(dir, f.name), f.sql, 'utf8');
  return { dir, migrations: await loadMigrations(dir) };
}

function parseBundle(bytes: Buffer, key: string): BundleDocument {
  const notBundle = (why: string) =>
    new MigrationBundleNotFoundError(`${key} is not a pgshift migrations bundle (${why}). Nothing ran.`, {
      details: { bundle: key },
    });
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw notBundle('not JSON');
  }
  const doc = record(parsed);
  if (doc.format !== BUNDLE_FORMAT) throw notBundle(`format ${JSON.stringify(doc.format)}`);
  if (!Array.isArray(doc.files)) throw notBundle('no files');
  const files: BundleDocument['files'] = [];
  for (const entry of doc.files) {
    const f = record(entry);
    // A name with a slash or "..": the folder it is written into could be left.
    if (typeof f.name !== 'string' || !FILE_NAME.test(f.name) || typeof f.sql !== 'string') {
      throw notBundle(`file entry ${JSON.stringify(f.name)}`);
    }
    files.push({ name: f.name, sql: f.sql });
  }
  return { format: BUNDLE_FORMAT, files };
}
