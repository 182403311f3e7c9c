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
 * A path inside the function's code: relative paths are resolved against LAMBDA_TASK_ROOT (where Lambda
 * unpacks the asset; the image sets it too), so the template never hard-codes `/var/task`. Outside Lambda
 * (the CLI, tests) they are resolved against the working directory; absolute paths are kept.
 */
export function taskRootPath(rel: string, env: NodeJS.ProcessEnv = process.env): string {
  if (path.isAbsolute(rel)) return rel;
  return path.resolve(env.LAMBDA_TASK_ROOT ?? process.cwd(), rel);
}
