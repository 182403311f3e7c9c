import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as errors from '../../lambdas/shared/errors';
import { ERROR_NAMES, errorMessage, InputValidationError, PgshiftError } from '../../lambdas/shared/errors';

/** The names in docs/errors.md's first table, and which of them the doc marks "CLI only". */
function documentedErrors(): { name: string; cliOnly: boolean }[] {
  const doc = readFileSync(join(__dirname, '../../docs/errors.md'), 'utf8');
  const lines = doc.split('\n');
  const header = lines.findIndex((line) => line.startsWith('| name |'));
  const rows: { name: string; cliOnly: boolean }[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((cell) => cell.trim());
    const name = /^`(\w+)`$/.exec(cells[1] ?? '')?.[1];
    if (!name)
      throw new Error(`docs/errors.md: a row of the first table does not start with a name: ${line}`);
    rows.push({ name, cliOnly: (cells[3] ?? '').startsWith('CLI only') });
  }
  return rows;
}

/** Every PgshiftError subclass lambdas/shared/errors.ts exports, instantiated, with the name it was exported as. */
function errorClasses(): { exportedAs: string; instance: PgshiftError }[] {
  const found: { exportedAs: string; instance: PgshiftError }[] = [];
  for (const [exportedAs, value] of Object.entries(errors)) {
    if (typeof value !== 'function' || value === PgshiftError) continue;
    if (!(value.prototype instanceof PgshiftError)) continue;
    const instance: unknown =
      value === InputValidationError
        ? new InputValidationError(['a problem'])
        : Reflect.construct(value, ['a message']);
    if (!(instance instanceof PgshiftError))
      throw new Error(`${exportedAs} did not construct a PgshiftError`);
    found.push({ exportedAs, instance });
  }
  return found;
}

describe('error names', () => {
  it('each error class carries its own name as a literal, so minified bundles keep it', () => {
    const classes = errorClasses();
    expect(classes.length).toBeGreaterThan(20);
    for (const { exportedAs, instance } of classes) {
      expect({ exportedAs, name: instance.name }).toEqual({ exportedAs, name: exportedAs });
      expect(instance.toJSON().name).toBe(exportedAs);
    }
  });

  it('docs/errors.md lists every error class, and every name it lists is a class', () => {
    const documented = documentedErrors().map((row) => row.name);
    const classes = errorClasses().map((c) => c.exportedAs);
    expect([...documented].sort()).toEqual([...classes].sort());
  });

  it('ERROR_NAMES holds exactly the documented names the state machine can see (not the CLI-only ones)', () => {
    const forWorkflow = documentedErrors()
      .filter((row) => !row.cliOnly)
      .map((row) => row.name);
    expect([...ERROR_NAMES].sort()).toEqual(forWorkflow.sort());
    expect(new Set(ERROR_NAMES).size).toBe(ERROR_NAMES.length);
  });
});

describe('errorMessage', () => {
  it("gives an Error's message, a message-bearing object's message, or anything else as text", () => {
    expect(errorMessage(new TypeError('bad type'))).toBe('bad type');
    expect(errorMessage({ message: 'from a plain object' })).toBe('from a plain object');
    expect(errorMessage('a thrown string')).toBe('a thrown string');
    expect(errorMessage(42)).toBe('42');
    expect(errorMessage(undefined)).toBe('undefined');
  });
});
