import { ConfigurationError } from '../shared/errors';

/** A pg_dump compression choice: the flag pg_dump gets and the label the manifest records. */
export interface DumpCompression {
  method: 'gzip' | 'zstd' | 'lz4' | 'none';
  level?: number;
  /** The arguments for pg_dump (empty for pg_dump's default is never used: pgshift always says what it wants). */
  args: string[];
  /** e.g. "gzip:1", "zstd:1", "none": what BackupManifest.compression holds. */
  label: string;
}

const LEVELS: Record<'gzip' | 'zstd' | 'lz4', [number, number]> = {
  gzip: [1, 9],
  zstd: [1, 22],
  lz4: [1, 12],
};

/**
 * Resolves `config.backupCompression` ("1", "gzip:6", "zstd", "zstd:3", "lz4", "none", "auto") against the
 * pg_dump and server majors. zstd and lz4 need pg_dump 16+ (and a server of 16+, so that every pg_restore that
 * can restore into it reads them); asking for them with older tools is a ConfigurationError, never a silent
 * fallback. "auto" means zstd:1 where both are 16+, else gzip:1.
 */
export function resolveCompression(
  setting: string,
  pgDumpMajor: number,
  serverMajor: number,
): DumpCompression {
  const raw = setting.trim().toLowerCase();
  const modern = pgDumpMajor >= 16 && serverMajor >= 16;
  if (raw === 'auto') return resolveCompression(modern ? 'zstd:1' : 'gzip:1', pgDumpMajor, serverMajor);
  if (raw === 'none' || raw === '0' || raw === 'gzip:0') {
    return { method: 'none', args: [pgDumpMajor >= 16 ? '--compress=none' : '--compress=0'], label: 'none' };
  }
  const m = /^(?:(gzip|zstd|lz4)(?::(\d+))?|(\d+))$/.exec(raw);
  if (!m) {
    throw new ConfigurationError(
      `Unknown backup compression "${setting}" (expected a gzip level 0-9, gzip:N, zstd[:N], lz4[:N], none or auto)`,
    );
  }
  const method = m[1] === 'zstd' || m[1] === 'lz4' ? m[1] : 'gzip';
  const levelText = m[2] ?? m[3];
  const level = levelText === undefined ? 1 : Number(levelText);
  const [min, max] = LEVELS[method];
  if (level < min || level > max) {
    throw new ConfigurationError(`Backup compression ${method} level must be ${min}-${max}, got ${level}`);
  }
  if (method !== 'gzip' && !modern) {
    throw new ConfigurationError(
      `Backup compression ${method} needs pg_dump and server 16 or newer (pg_dump ${pgDumpMajor}, server ${serverMajor}); use gzip:N`,
    );
  }
  // pg_dump before 16 only takes a bare gzip level; 16+ takes method:level.
  const args = pgDumpMajor >= 16 ? [`--compress=${method}:${level}`] : [`--compress=${level}`];
  return { method, level, args, label: `${method}:${level}` };
}
