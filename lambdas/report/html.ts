import { shortValue } from '../schema';
import { describeHazards } from '../schema/summary';
import type { SchemaDiff } from '../schema';
import { formatBytes } from '../shared/format';
import type { DatabaseReport } from './model';
import { reportSections, type Block, type Cell, type Inline } from './sections';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string | number | boolean | null | undefined): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function htmlTable(id: string, head: string[], rows: Cell[][], numeric: number[] = []): string {
  if (rows.length === 0) return `<p class="none" id="${id}">None.</p>`;
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${r.map((v, i) => `<td${numeric.includes(i) ? ' class="num"' : ''}>${escapeHtml(v ?? '')}</td>`).join('')}</tr>`,
    )
    .join('\n');
  return `<table id="${id}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** A horizontal bar chart of the largest tables' total size, as inline SVG. */
export function tableSizeChart(report: DatabaseReport, maxBars = 20): string {
  const tables = report.tables.slice(0, maxBars);
  if (tables.length === 0) return '<p class="none">No tables.</p>';
  const [labelWidth, barWidth, rowHeight] = [260, 420, 22];
  const max = Math.max(...tables.map((t) => t.totalBytes), 1);
  const bars = tables
    .map((t, i) => {
      const y = i * rowHeight;
      const w = Math.max(1, Math.round((t.totalBytes / max) * barWidth));
      const label = t.qualifiedName.length > 40 ? t.qualifiedName.slice(0, 39) + '…' : t.qualifiedName;
      return (
        `<g class="bar"><title>${escapeHtml(`${t.qualifiedName}: ${formatBytes(t.totalBytes)}`)}</title>` +
        `<text x="${labelWidth - 6}" y="${y + 15}" text-anchor="end">${escapeHtml(label)}</text>` +
        `<rect x="${labelWidth}" y="${y + 3}" width="${w}" height="${rowHeight - 6}" data-bytes="${t.totalBytes}"></rect>` +
        `<text x="${labelWidth + w + 6}" y="${y + 15}">${escapeHtml(formatBytes(t.totalBytes))}</text></g>`
      );
    })
    .join('\n');
  const height = tables.length * rowHeight;
  return (
    `<svg id="table-size-chart" role="img" width="${labelWidth + barWidth + 90}" ` +
    `height="${height}" viewBox="0 0 ${labelWidth + barWidth + 90} ${height}">` +
    `<title>Largest tables by total size</title>\n${bars}\n</svg>`
  );
}

const CSS = `
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem;color:#1f2328;max-width:1200px}
h1{font-size:1.6rem}h2{border-bottom:1px solid #d0d7de;padding-bottom:.3rem;margin-top:2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.85rem}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.summary{display:flex;gap:1rem;flex-wrap:wrap}.summary div{background:#f6f8fa;border-radius:6px;padding:.6rem 1rem}
.summary b{display:block;font-size:1.2rem}.none{color:#656d76}
svg text{font-size:12px;fill:#1f2328}svg rect{fill:#0969da}
.risk-destructive{color:#cf222e;font-weight:600}.risk-locking{color:#9a6700;font-weight:600}.risk-safe{color:#1a7f37}
.pass{color:#1a7f37}.fail{color:#cf222e}.warn,.skipped{color:#9a6700}
`;

function schemaDiffHtml(d: SchemaDiff): string {
  const counts = `<p>${d.counts.total} changes: ${d.counts.destructive} destructive, ${d.counts.locking} locking, ${d.counts.safe} safe.</p>`;
  if (d.changes.length === 0)
    return `<h2>Schema diff</h2>${counts}<p class="none" id="schema-diff">No schema changes.</p>`;
  const rows = d.changes.slice(0, 500).map((c) => {
    const attributes = (c.attributes ?? [])
      .map(
        (a) =>
          `<br>${escapeHtml(a.attribute)}: ${escapeHtml(shortValue(a.before))} → ${escapeHtml(shortValue(a.after))}`,
      )
      .join('');
    return (
      `<tr><td class="risk-${c.risk}">${escapeHtml(c.risk)}</td><td>${escapeHtml(c.change)}</td><td>${escapeHtml(c.kind)}</td>` +
      `<td><code>${escapeHtml(c.name)}</code></td><td>${escapeHtml(describeHazards(c))}${attributes}</td></tr>`
    );
  });
  return (
    `<h2>Schema diff</h2>${counts}<table id="schema-diff"><thead><tr><th>risk</th><th>change</th><th>kind</th>` +
    `<th>name</th><th>hazards</th></tr></thead><tbody>${rows.join('\n')}</tbody></table>`
  );
}

function inline(parts: Inline[]): string {
  return parts
    .map((p) => (typeof p === 'string' ? escapeHtml(p) : `<code>${escapeHtml(p.code)}</code>`))
    .join('');
}

function htmlBlock(block: Block): string {
  switch (block.type) {
    case 'heading':
      return `<h${block.level}>${escapeHtml(block.text)}</h${block.level}>`;
    case 'paragraph': {
      const attrs = `${block.id ? ` id="${block.id}"` : ''}${block.tone ? ` class="${block.tone}"` : ''}`;
      return `<p${attrs}>${inline(block.parts)}</p>`;
    }
    case 'facts':
      return `<div class="summary">${block.items.map((f) => `<div>${escapeHtml(f.label)}<b>${escapeHtml(f.value)}</b></div>`).join('')}</div>`;
    case 'table':
      return htmlTable(block.id, block.head, block.rows, block.numeric);
    case 'checklist':
      return `<ul id="${block.id}">${block.items
        .map(
          (c) =>
            `<li class="${escapeHtml(c.status)}">${c.status === 'pass' ? '☑' : '☐'} <b>${escapeHtml(c.status)}</b> ${escapeHtml(c.id)}: ${escapeHtml(c.message)}</li>`,
        )
        .join('')}</ul>`;
    case 'list':
      return `<ul id="${block.id}">${block.items.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`;
    case 'size-chart':
      return tableSizeChart(block.report);
    case 'schema-diff':
      return schemaDiffHtml(block.diff);
  }
}

/** The report as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets. */
export function renderReportHtml(report: DatabaseReport): string {
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(`pgshift report: ${report.database}`)}</title><style>${CSS}</style></head>\n<body>\n` +
    [
      `<h1>pgshift report: ${escapeHtml(report.database)}</h1>`,
      ...reportSections(report).map(htmlBlock),
    ].join('\n') +
    '\n</body></html>\n'
  );
}
