import { compareCodeUnits } from './canonical';
import type { SchemaChange, SchemaDiff } from './diff';
import { OBJECT_KINDS } from './model';
import { describeHazards } from './summary';

/** An inline code span that survives backticks inside the text (identifiers may contain anything). */
export function mdCode(text: string): string {
  const runs = text.match(/`+/g) ?? [];
  const fence = '`'.repeat(Math.max(0, ...runs.map((r) => r.length)) + 1);
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text.replace(/\r?\n/g, ' ')}${pad}${fence}`;
}

/** A value for one line of Markdown: JSON for non-strings, cut at `max` characters. */
export function shortValue(value: unknown, max = 200): string {
  const text =
    value === null || value === undefined
      ? '(none)'
      : typeof value === 'string'
        ? value
        : JSON.stringify(value);
  return text.length > max ? text.slice(0, max) + '…' : text;
}

function changeLine(c: SchemaChange): string[] {
  const lines = [`- **${c.risk}** ${c.change} ${mdCode(c.name)}: ${describeHazards(c)}`];
  for (const a of c.attributes ?? []) {
    lines.push(`  - ${a.attribute}: ${mdCode(shortValue(a.before))} → ${mdCode(shortValue(a.after))}`);
  }
  return lines;
}

/** The diff as Markdown, grouped by schema and then by object kind, each change with its hazards. */
export function renderDiffMarkdown(diff: SchemaDiff, title = 'Schema diff'): string {
  const { counts } = diff;
  const out = [`# ${title}`, ''];
  if (counts.total === 0) {
    out.push('No schema changes.', '');
    return out.join('\n');
  }
  out.push(
    `${counts.total} change${counts.total === 1 ? '' : 's'}: ${counts.destructive} destructive, ${counts.locking} locking, ${counts.safe} safe.`,
    '',
  );
  const bySchema = new Map<string, SchemaChange[]>();
  for (const c of diff.changes) bySchema.set(c.schema, [...(bySchema.get(c.schema) ?? []), c]);
  for (const schema of [...bySchema.keys()].sort(compareCodeUnits)) {
    out.push(`## Schema ${mdCode(schema)}`, '');
    const changes = bySchema.get(schema) ?? [];
    for (const kind of OBJECT_KINDS) {
      const ofKind = changes.filter((c) => c.kind === kind);
      if (ofKind.length === 0) continue;
      out.push(`### ${kind.replace('_', ' ')}`, '');
      for (const c of ofKind) out.push(...changeLine(c));
      out.push('');
    }
  }
  return out.join('\n');
}
