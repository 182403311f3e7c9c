import type { DatabaseReport } from './model';

export { escapeHtml, renderReportHtml, tableSizeChart } from './html';
export { renderReportMarkdown } from './markdown';

/** The report as JSON text (what report.json holds). */
export function renderReportJson(report: DatabaseReport): string {
  return JSON.stringify(report, null, 2) + '\n';
}
