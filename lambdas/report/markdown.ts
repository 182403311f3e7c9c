import { mdCode, renderDiffMarkdown, shortValue } from '../schema';
import type { DatabaseReport } from './model';
import { reportSections, type Block, type Cell, type Inline } from './sections';

/** Escapes a table cell: pipes and line breaks would break the row. */
function cell(v: Cell): string {
  return shortValue(v, 120).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function mdTable(head: string[], rows: Cell[][]): string[] {
  if (rows.length === 0) return ['(none)', ''];
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ];
}

function inline(parts: Inline[]): string {
  return parts.map((p) => (typeof p === 'string' ? p : mdCode(p.code))).join('');
}

function markdownBlock(block: Block): string[] {
  switch (block.type) {
    case 'heading':
      return [`${'#'.repeat(block.level)} ${block.text}`, ''];
    case 'paragraph':
      return [inline(block.parts), ''];
    case 'facts':
      return [block.items.map((f) => `${f.label}: **${f.value}**`).join(' · '), ''];
    case 'table':
      return mdTable(block.head, block.rows);
    case 'checklist':
      return [
        ...block.items.map(
          (c) => `- [${c.status === 'pass' ? 'x' : ' '}] **${c.status}** ${c.id}: ${cell(c.message)}`,
        ),
        '',
      ];
    case 'list':
      return [...block.items.map((l) => `- ${cell(l)}`), ''];
    case 'size-chart':
      return [];
    case 'schema-diff':
      return [renderDiffMarkdown(block.diff, 'Schema diff').replace(/^# /, '## ')];
  }
}

/** The report as Markdown, from the same sections as the HTML. */
export function renderReportMarkdown(report: DatabaseReport): string {
  const blocks = reportSections(report).filter(
    // Markdown has no chart: its heading would stand over nothing.
    (b, i, all) => !(b.type === 'heading' && all[i + 1]?.type === 'size-chart'),
  );
  return [`# pgshift report: ${mdCode(report.database)}`, '', ...blocks.flatMap(markdownBlock)].join('\n');
}
