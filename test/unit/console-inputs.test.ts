/**
 * Every example a user may paste from docs/console-inputs.md is valid execution input, and names only real
 * pre-flight checks: the documentation cannot drift from the schema.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { CHECK_IDS } from '../../lambdas/preflight/types';
import { parseExecutionInput } from '../../lambdas/shared/input';
import { present } from '../helpers/present';

const doc = readFileSync(path.resolve(__dirname, '..', '..', 'docs', 'console-inputs.md'), 'utf8');
const examples = [...doc.matchAll(/\| `(\{ "action"[^`]*\})` \|/g)].map((m) => present(m[1], 'an example'));

describe('docs/console-inputs.md', () => {
  test('has an example for every action', () => {
    const actions = new Set(examples.map((e) => (JSON.parse(e) as { action: string }).action));
    expect([...actions].sort()).toEqual(
      [
        'backup',
        'baseline',
        'cleanup',
        'downgrade',
        'migrate',
        'preflight',
        'report',
        'restore',
        'verify',
      ].sort(),
    );
  });

  test.each(examples)('%s is valid input', (example) => {
    const input = parseExecutionInput(JSON.parse(example));
    for (const id of input.skipPreflight ?? []) expect(CHECK_IDS).toContain(id);
  });
});
