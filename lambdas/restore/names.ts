import { createHash } from 'node:crypto';

/** PostgreSQL truncates identifiers longer than this many bytes (NAMEDATALEN - 1), silently. */
export const MAX_IDENTIFIER_BYTES = 63;

export type CopyKind = 'restore' | 'before';

function truncateBytes(text: string, maxBytes: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > maxBytes) break;
    out += ch;
  }
  return out;
}

/**
 * `<db>__pgshift_restore_<ts>` (the database being restored into) or `<db>__pgshift_before_<ts>` (the
 * original, kept after the swap). When that would exceed 63 bytes, the name part is shortened and a hash of the
 * full name added, so PostgreSQL never truncates it and two long names never collide.
 */
export function copyName(database: string, kind: CopyKind, timestamp: string): string {
  const suffix = `__pgshift_${kind}_${timestamp}`;
  const plain = database + suffix;
  if (Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES) return plain;
  const hash = createHash('sha256').update(database).digest('hex').slice(0, 8);
  const room = MAX_IDENTIFIER_BYTES - Buffer.byteLength(suffix) - hash.length - 1;
  return `${truncateBytes(database, room)}_${hash}${suffix}`;
}

const COPY_PATTERN = /__pgshift_(restore|before)_(\d{8}_\d{6})$/;

/** When `name` is one of `database`'s copies, its kind and creation time; otherwise undefined. */
export function parseCopyName(
  database: string,
  name: string,
): { kind: CopyKind; timestamp: string; createdAt: Date } | undefined {
  const m = COPY_PATTERN.exec(name);
  const t = m?.[2];
  if (!m || t === undefined) return undefined;
  const kind = m[1] === 'before' ? 'before' : 'restore';
  if (copyName(database, kind, t) !== name) return undefined;
  const createdAt = new Date(
    Date.UTC(
      +t.slice(0, 4),
      +t.slice(4, 6) - 1,
      +t.slice(6, 8),
      +t.slice(9, 11),
      +t.slice(11, 13),
      +t.slice(13, 15),
    ),
  );
  return { kind, timestamp: t, createdAt };
}

export { conninfoDbname } from '../shared/db';
