/** The SQLSTATE (`code`) a node-postgres error carries, or undefined for anything else thrown. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}
