/**
 * Narrowing for JSON whose shape is known only by convention (CloudFormation templates, AWS request bodies):
 * type guards instead of casts, so a missing or mistyped field reads as `undefined`, never as a wrong type.
 */
import { isRecord } from '../../lambdas/shared/is-record';

/** `value[key]` when `value` is an object, else undefined. */
export function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

/** `value[key]` when it is a string. */
export function stringField(value: unknown, key: string): string | undefined {
  const v = field(value, key);
  return typeof v === 'string' ? v : undefined;
}

/** `value[key]` when it is an object, else an empty one. */
export function recordField(value: unknown, key: string): Record<string, unknown> {
  const v = field(value, key);
  return isRecord(v) ? v : {};
}

/** An array of strings only. */
export function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((s) => typeof s === 'string');
}

/** `value[key]` when it is an array of strings. */
export function stringsField(value: unknown, key: string): string[] | undefined {
  const v = field(value, key);
  return isStringArray(v) ? v : undefined;
}

/** A JSON text parsed as an object; anything else (an array, a string) is an empty object. */
export function parseJsonRecord(text: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(text);
  return isRecord(parsed) ? parsed : {};
}
