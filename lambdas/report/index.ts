/** The report core: Lambda-free, called by the report handler, the CLI and the local runner. */
export { buildReport, reportFailure } from './build';
export type { BuildReportDeps, BuildReportOptions, DatabaseReport, TableReport } from './build';
export { summarizeRun } from './run';
export type { ChecklistItem, RunSummary } from './run';
export {
  escapeHtml,
  renderReportHtml,
  renderReportJson,
  renderReportMarkdown,
  tableSizeChart,
} from './render';
export { MAX_PRESIGN_SECONDS, presignReportUrl, writeReport } from './write';
export type { WrittenReport } from './write';
