import { ConfigurationError } from '../shared/errors';
import { optionalEnv } from '../shared/env';
import { pgToolVersion, type PgVersion } from '../shared/pg-version';

/**
 * The pg_dump major of the image that runs the backup, from PGSHIFT_IMAGE_PG_MAJOR (the CDK stack sets it to the
 * image's build arg). The preflight function is a NodejsFunction without PostgreSQL binaries, so on AWS this is
 * the only way to know which pg_dump the backup will run. Undefined when unset; a value that is not a major
 * version is a ConfigurationError (read at module scope, so a bad deploy fails every invocation loudly).
 */
export function imagePgDumpVersion(env: NodeJS.ProcessEnv = process.env): PgVersion | undefined {
  const raw = optionalEnv('PGSHIFT_IMAGE_PG_MAJOR', env);
  if (raw === undefined) return undefined;
  if (!/^\d{1,3}$/.test(raw.trim())) {
    throw new ConfigurationError(
      `PGSHIFT_IMAGE_PG_MAJOR must be a PostgreSQL major version such as "16", not "${raw}"`,
      { details: { variable: 'PGSHIFT_IMAGE_PG_MAJOR' } },
    );
  }
  const major = Number(raw.trim());
  return { text: `${major} (image PGSHIFT_IMAGE_PG_MAJOR)`, major, num: major * 10000 };
}

/**
 * Where the version of the backup's pg_dump comes from: the image's declared major when set (AWS), else the
 * local pg_dump (`pgToolVersion`, honouring PGSHIFT_PG_BIN). Rejects when neither is available; the versions
 * check then says `skipped` with the reason.
 */
export function backupPgDumpVersion(env: NodeJS.ProcessEnv = process.env): () => Promise<PgVersion> {
  const image = imagePgDumpVersion(env);
  return image ? () => Promise.resolve(image) : () => pgToolVersion('pg_dump', env);
}
