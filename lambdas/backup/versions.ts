import { PgVersionMismatchError } from '../shared/errors';
import type { ToolVersion } from '../shared/pgtools';

/**
 * Refuses a client tool older than the server: pg_dump cannot dump a newer server ("server version mismatch")
 * and a pg_restore older than the pg_dump that wrote an archive cannot read it. The error names both versions.
 */
export function assertToolNotOlder(
  tool: 'pg_dump' | 'pg_restore',
  toolVersion: ToolVersion,
  other: ToolVersion,
  otherName = 'the server',
): void {
  if (toolVersion.major < other.major) {
    throw new PgVersionMismatchError(
      `${tool} ${toolVersion.text} is older than ${otherName} (${other.text}); ` +
        `use a ${tool} of major version ${other.major} or newer (PGSHIFT_PG_BIN / the image's PG_MAJOR)`,
      { details: { tool, toolVersion: toolVersion.text, otherVersion: other.text } },
    );
  }
}
