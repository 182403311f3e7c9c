import { ConfigurationError } from './errors';

/**
 * Typed readers of one environment variable each. Unset and empty both mean "not configured" (the stack writes
 * empty strings for absent props); anything else must parse, or a ConfigurationError names the variable and the
 * value, so a typo in a threshold fails the step's first invocation instead of silently keeping a default.
 */
export type Env = NodeJS.ProcessEnv;

/** The variable's value; unset and empty are both undefined. */
export function envString(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

function unusable(name: string, raw: string, expected: string): ConfigurationError {
  return new ConfigurationError(`${name} must be ${expected}, not "${raw}"`, {
    details: { variable: name, value: raw },
  });
}

export interface IntegerOptions {
  /** Smallest accepted value. @default 0 */
  min?: number;
  /** What the number counts, for the error ("seconds", "days", "bytes"). */
  unit?: string;
}

/** A whole, non-negative number written in decimal digits (no sign, no exponent, no unit). */
export function envInteger(env: Env, name: string, options: IntegerOptions = {}): number | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  const min = options.min ?? 0;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(value) || value < min) {
    const what = min > 0 ? 'a positive' : 'a whole';
    throw unusable(name, raw, `${what} number${options.unit ? ` of ${options.unit}` : ''}`);
  }
  return value;
}

/** A size in bytes, as a whole number. */
export function envBytes(
  env: Env,
  name: string,
  options: Omit<IntegerOptions, 'unit'> = {},
): number | undefined {
  return envInteger(env, name, { ...options, unit: 'bytes' });
}

/** A duration written in whole seconds, returned in milliseconds (what timers and deadlines use). */
export function envSecondsMs(
  env: Env,
  name: string,
  options: Omit<IntegerOptions, 'unit'> = {},
): number | undefined {
  const seconds = envInteger(env, name, { ...options, unit: 'seconds' });
  return seconds === undefined ? undefined : seconds * 1000;
}

/** `true`/`1` or `false`/`0`; any other spelling is an error rather than a silent "false". */
export function envBoolean(env: Env, name: string): boolean | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw unusable(name, raw, 'true or false');
}

/** One of `allowed`, spelled exactly. */
export function envEnum<T extends string>(env: Env, name: string, allowed: readonly T[]): T | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  const value = allowed.find((a) => a === raw);
  if (value !== undefined) return value;
  throw unusable(name, raw, `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
}

/**
 * A value that a domain parser reads (e.g. a JSON object of lint severities); the parser's own message is kept,
 * between the variable's name and the value.
 */
export function envParsed<T>(env: Env, name: string, parse: (raw: string) => T): T | undefined {
  const raw = envString(env, name);
  if (raw === undefined) return undefined;
  try {
    return parse(raw);
  } catch (err) {
    throw new ConfigurationError(
      `${name}: ${err instanceof Error ? err.message : String(err)}; got "${raw}"`,
      {
        details: { variable: name, value: raw },
      },
    );
  }
}
