import * as path from 'node:path';
import { ConfigurationError } from './errors';

/** Reads a required environment variable once, at module scope of a handler; throws a clear error when unset. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') {
    throw new ConfigurationError(`Environment variable ${name} is not set`, { details: { variable: name } });
  }
  return value;
}

export function optionalEnv(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * A file of the function's own asset: `rel` resolved against LAMBDA_TASK_ROOT (where Lambda unpacks the zip, or
 * the image's /var/task), else against the working directory (the CLI and tests run from the repository).
 * Absolute paths are returned as they are.
 */
export function taskRootPath(rel: string, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(optionalEnv('LAMBDA_TASK_ROOT', env) ?? process.cwd(), rel);
}
