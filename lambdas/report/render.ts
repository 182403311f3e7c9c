import { mdCode, renderDiffMarkdown, shortValue } from '../schema';
import type { DatabaseReport } from './build';
import { formatBytes } from '../shared/format';

/** The report as JSON text (what report.json holds). */
export function renderReportJson(report: DatabaseReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}

/** Escapes a table cell: pipes and line breaks would break the row. */
function cell(v: unknown): string {
  return shortValue(v, 120).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

function mdTable(head: string[], rows: unknown[][]): string[] {
  if (rows.length === 0) return ['(none)', ''];
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ];
}

/** The report as Markdown. */
/** One row per table, the same cells in the Markdown and the HTML report. */
function tableRows(report: DatabaseReport): unknown[][] {
  return report.tables.map((t) => [
    t.qualifiedName,
    formatBytes(t.totalBytes),
    formatBytes(t.tableBytes),
    formatBytes(t.indexBytes),
    formatBytes(t.toastBytes),
    t.estimatedRows ?? 'never analyzed',
    t.exactRows ?? '-',
    t.deadTuples,
    t.lastVacuum ?? t.lastAutovacuum ?? '-',
    t.lastAnalyze ?? t.lastAutoanalyze ?? '-',
  ]);
}

export function renderReportMarkdown(report: DatabaseReport): string {
  const s = report.server;
  const out: string[] = [
    `# pgshift report: ${mdCode(report.database)}`,
    '',
    `Generated ${report.generatedAt}. PostgreSQL ${s.version}; database size ${formatBytes(s.databaseSizeBytes)}; ` +
      `connections ${s.connections.total} of ${s.maxConnections} (${s.reservedConnections} reserved).`,
    '',
  ];
  const run = report.run;
  if (run.steps.length > 0) {
    out.push(
      '## This run',
      '',
      ...mdTable(
        ['step', 'ok'],
        run.steps.map((st) => [st.name, st.ok ? 'yes' : 'no']),
      ),
    );
    if (run.migrations) out.push(migrationSourceLine(run.migrations, mdCode), '');
    if (run.preflight)
      out.push(
        '### Pre-flight checklist',
        '',
        ...run.preflight.checks.map(
          (c) => `- [${c.status === 'pass' ? 'x' : ' '}] **${c.status}** ${c.id}: ${cell(c.message)}`,
        ),
        '',
      );
  }
  out.push(
    `## Tables (${report.tables.length} of ${report.tableCount}, largest first)`,
    '',
    ...mdTable(
      [
        'table',
        'total',
        'table',
        'indexes',
        'toast',
        'est. rows',
        'exact rows',
        'dead',
        'last vacuum',
        'last analyze',
      ],
      tableRows(report),
    ),
  );
  const m = report.migrations;
  out.push('## Migrations', '');
  if (!m.tracked) out.push('pgshift has not migrated this database yet.', '');
  out.push(
    ...mdTable(
      ['version', 'name', 'applied at', 'by', 'direction'],
      m.applied.map((a) => [a.version, a.name, a.appliedAt, a.appliedBy, a.direction]),
    ),
  );
  if (m.alembic)
    out.push(
      `Alembic (${mdCode(m.alembic.table)}): ${m.alembic.versions.map(mdCode).join(', ') || '(empty)'}`,
      '',
    );
  out.push(
    '### History',
    '',
    ...mdTable(
      ['when', 'event', 'version', 'name', 'status', 'execution', 'error'],
      m.history.map((h) => [h.startedAt, h.event, h.version, h.name, h.status, h.executionId, h.error]),
    ),
    '## Backups',
    '',
    ...mdTable(
      ['finished', 'key', 'size', 'compression', 'reason'],
      report.backups.map((b) => [b.finishedAt, b.key, formatBytes(b.sizeBytes), b.compression, b.reason]),
    ),
    '## Locks',
    '',
    ...mdTable(
      ['pid', 'relation', 'type', 'mode', 'granted', 'waiting s'],
      report.locks.map((l) => [l.pid, l.relation, l.lockType, l.mode, l.granted, l.waitingSeconds]),
    ),
    `## Queries running longer than ${report.thresholds.longQuerySeconds} s`,
    '',
    ...mdTable(
      ['pid', 'user', 'state', 'seconds', 'query'],
      report.longRunningQueries.map((q) => [q.pid, q.user, q.state, q.durationSeconds, q.query]),
    ),
  );
  if (report.drift) {
    out.push(
      '## Drift',
      '',
      report.drift.ok ? 'No drift.' : 'The live schema differs from the recorded one:',
      '',
    );
    out.push(...(report.drift.summary ?? []).map((l) => `- ${cell(l)}`), '');
  }
  if (report.diff) out.push(renderDiffMarkdown(report.diff, 'Schema diff').replace(/^# /, '## '));
  return out.join('\n');
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  const text = value === null || value === undefined ? '' : String(value);
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function htmlTable(id: string, head: string[], rows: unknown[][], numeric: number[] = []): string {
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
  const labelWidth = 260;
  const barWidth = 420;
  const rowHeight = 22;
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

/** The report as one self-contained HTML page: inline CSS and SVG, no scripts, no external assets. */
export function renderReportHtml(report: DatabaseReport): string {
  const s = report.server;
  const run = report.run;
  const parts: string[] = [];
  parts.push(
    `<h1>pgshift report: ${escapeHtml(report.database)}</h1>`,
    `<p>Generated ${escapeHtml(report.generatedAt)} · PostgreSQL ${escapeHtml(s.version)}</p>`,
    `<div class="summary">` +
      `<div>Database size<b>${escapeHtml(formatBytes(s.databaseSizeBytes))}</b></div>` +
      `<div>Tables<b>${report.tableCount}</b></div>` +
      `<div>Connections<b>${s.connections.total} / ${s.maxConnections}</b></div>` +
      `<div>Applied migrations<b>${report.migrations.applied.length}</b></div>` +
      `<div>Backups<b>${report.backups.length}</b></div>` +
      (report.diff ? `<div>Schema changes<b>${report.diff.counts.total}</b></div>` : '') +
      `</div>`,
  );
  if (run.steps.length > 0) {
    parts.push(
      '<h2>This run</h2>',
      htmlTable(
        'run-steps',
        ['step', 'ok'],
        run.steps.map((st) => [st.name, st.ok ? 'yes' : 'no']),
      ),
    );
    if (run.preflight)
      parts.push(
        '<h3>Pre-flight checklist</h3><ul id="preflight-checklist">' +
          run.preflight.checks
            .map(
              (c) =>
                `<li class="${escapeHtml(c.status)}">${c.status === 'pass' ? '☑' : '☐'} <b>${escapeHtml(c.status)}</b> ${escapeHtml(c.id)}: ${escapeHtml(c.message)}</li>`,
            )
            .join('') +
          '</ul>',
      );
    if (run.migrations)
      parts.push(
        `<p id="migrations-source">${migrationSourceLine(run.migrations, (t) => `<code>${escapeHtml(t)}</code>`)}</p>`,
      );
    if (run.backup?.key) parts.push(`<p>Backup: <code>${escapeHtml(run.backup.key)}</code></p>`);
    if (run.migrate?.applied?.length)
      parts.push(
        `<p>Applied in this run: ${escapeHtml(run.migrate.applied.map((a) => shortValue(a, 80)).join(', '))}</p>`,
      );
  }
  parts.push(
    '<h2>Table sizes</h2>',
    tableSizeChart(report),
    `<h2>Tables (${report.tables.length} of ${report.tableCount})</h2>`,
    htmlTable(
      'tables',
      [
        'table',
        'total',
        'table',
        'indexes',
        'toast',
        'est. rows',
        'exact rows',
        'dead tuples',
        'last vacuum',
        'last analyze',
      ],
      tableRows(report),
      [1, 2, 3, 4, 5, 6, 7],
    ),
    '<h2>Migrations</h2>',
    report.migrations.tracked ? '' : '<p class="none">pgshift has not migrated this database yet.</p>',
    htmlTable(
      'migrations',
      ['version', 'name', 'applied at', 'by', 'direction'],
      report.migrations.applied.map((a) => [a.version, a.name, a.appliedAt, a.appliedBy, a.direction]),
    ),
    report.migrations.alembic
      ? `<p id="alembic">Alembic (${escapeHtml(report.migrations.alembic.table)}): ${escapeHtml(report.migrations.alembic.versions.join(', ') || '(empty)')}</p>`
      : '',
    '<h3>History</h3>',
    htmlTable(
      'history',
      ['when', 'event', 'version', 'name', 'status', 'execution', 'error'],
      report.migrations.history.map((h) => [
        h.startedAt,
        h.event,
        h.version,
        h.name,
        h.status,
        h.executionId,
        h.error,
      ]),
    ),
    '<h2>Backups</h2>',
    htmlTable(
      'backups',
      ['finished', 'key', 'size', 'compression', 'reason'],
      report.backups.map((b) => [b.finishedAt, b.key, formatBytes(b.sizeBytes), b.compression, b.reason]),
    ),
    `<h2>Connections</h2><p>${s.connections.total} of ${s.maxConnections} (${s.reservedConnections} reserved for superusers)</p>`,
    htmlTable(
      'connections',
      ['state', 'count'],
      Object.entries(s.connections.byState).map(([k, v]) => [k, v]),
      [1],
    ),
    '<h2>Locks</h2>',
    htmlTable(
      'locks',
      ['pid', 'relation', 'type', 'mode', 'granted', 'waiting s'],
      report.locks.map((l) => [l.pid, l.relation, l.lockType, l.mode, l.granted, l.waitingSeconds]),
    ),
    `<h2>Queries running longer than ${report.thresholds.longQuerySeconds} s</h2>`,
    htmlTable(
      'long-queries',
      ['pid', 'user', 'state', 'seconds', 'query'],
      report.longRunningQueries.map((q) => [q.pid, q.user, q.state, q.durationSeconds, q.query]),
    ),
  );
  if (report.drift) {
    parts.push(
      '<h2>Drift</h2>',
      `<p class="${report.drift.ok ? 'pass' : 'fail'}">${report.drift.ok ? 'No drift.' : 'The live schema differs from the recorded one.'}</p>`,
      `<ul id="drift">${(report.drift.summary ?? []).map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    );
  }
  if (report.diff) {
    const d = report.diff;
    parts.push(
      '<h2>Schema diff</h2>',
      `<p>${d.counts.total} changes: ${d.counts.destructive} destructive, ${d.counts.locking} locking, ${d.counts.safe} safe.</p>`,
      d.changes.length === 0
        ? '<p class="none" id="schema-diff">No schema changes.</p>'
        : `<table id="schema-diff"><thead><tr><th>risk</th><th>change</th><th>kind</th><th>name</th><th>details</th></tr></thead><tbody>` +
            d.changes
              .slice(0, 500)
              .map(
                (c) =>
                  `<tr><td class="risk-${c.risk}">${escapeHtml(c.risk)}</td><td>${escapeHtml(c.change)}</td><td>${escapeHtml(c.kind)}</td>` +
                  `<td><code>${escapeHtml(c.name)}</code></td><td>${escapeHtml(c.reason)}${(
                    c.attributes ?? []
                  )
                    .map(
                      (a) =>
                        `<br>${escapeHtml(a.attribute)}: ${escapeHtml(shortValue(a.before))} → ${escapeHtml(shortValue(a.after))}`,
                    )
                    .join('')}</td></tr>`,
              )
              .join('\n') +
            '</tbody></table>',
    );
  }
  return (
    `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(`pgshift report: ${report.database}`)}</title><style>${CSS}</style></head>\n<body>\n` +
    parts.filter(Boolean).join('\n') +
    '\n</body></html>\n'
  );
}

/** "Migrations: bundle `bundles/<sha>.json` (sha256 …, N files)" or "the files deployed with the function". */
function migrationSourceLine(
  m: NonNullable<DatabaseReport['run']['migrations']>,
  code: (text: string) => string,
): string {
  const files = m.count === undefined ? '' : `, ${m.count} migration${m.count === 1 ? '' : 's'}`;
  return m.source === 'bundle'
    ? `Migrations: bundle ${code(m.bundle ?? '')} (sha256 ${code(m.sha256 ?? '')}${files})`
    : `Migrations: the files deployed with the migrate function${files}`;
}
