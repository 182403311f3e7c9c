import type { SchemaDiff } from '../schema';
import { shortValue } from '../schema/render';
import { formatBytes } from '../shared/format';
import type { DatabaseReport } from './model';
import type { ChecklistItem } from './run';

/** Text with code spans: each renderer quotes code its own way. */
export type Inline = string | { code: string };
export type Cell = string | number | boolean | null | undefined;

/**
 * One section model for both renderings: the Markdown and the HTML report say the same things in the same
 * order, each renderer deciding only how a block looks (a chart or summary cards only where the format has them).
 */
export type Block =
  | { type: 'heading'; level: 2 | 3; text: string }
  | { type: 'paragraph'; parts: Inline[]; id?: string; tone?: 'pass' | 'fail' | 'none' }
  | { type: 'facts'; items: { label: string; value: string }[] }
  | { type: 'table'; id: string; head: string[]; rows: Cell[][]; numeric?: number[] }
  | { type: 'checklist'; id: string; items: ChecklistItem[] }
  | { type: 'list'; id: string; items: string[] }
  | { type: 'size-chart'; report: DatabaseReport }
  | { type: 'schema-diff'; diff: SchemaDiff };

const heading = (level: 2 | 3, text: string): Block => ({ type: 'heading', level, text });
const paragraph = (...parts: Inline[]): Block => ({ type: 'paragraph', parts });

function overview(report: DatabaseReport): Block[] {
  const s = report.server;
  return [
    paragraph(`Generated ${report.generatedAt} · PostgreSQL ${s.version}`),
    {
      type: 'facts',
      items: [
        { label: 'Database size', value: formatBytes(s.databaseSizeBytes) },
        { label: 'Tables', value: String(report.tableCount) },
        { label: 'Connections', value: `${s.connections.total} / ${s.maxConnections}` },
        { label: 'Applied migrations', value: String(report.migrations.applied.length) },
        { label: 'Backups', value: String(report.backups.length) },
        ...(report.diff ? [{ label: 'Schema changes', value: String(report.diff.counts.total) }] : []),
      ],
    },
  ];
}

/** "Migrations: bundle `bundles/<sha>.json` (sha256 …, N files)" or "the files deployed with the function". */
function migrationSource(m: NonNullable<DatabaseReport['run']['migrations']>): Inline[] {
  const files = m.count === undefined ? '' : `, ${m.count} migration${m.count === 1 ? '' : 's'}`;
  return m.source === 'bundle'
    ? ['Migrations: bundle ', { code: m.bundle ?? '' }, ' (sha256 ', { code: m.sha256 ?? '' }, `${files})`]
    : [`Migrations: the files deployed with the migrate function${files}`];
}

function thisRun(report: DatabaseReport): Block[] {
  const run = report.run;
  if (run.steps.length === 0) return [];
  const blocks: Block[] = [
    heading(2, 'This run'),
    {
      type: 'table',
      id: 'run-steps',
      head: ['step', 'ok'],
      rows: run.steps.map((st) => [st.name, st.ok ? 'yes' : 'no']),
    },
  ];
  if (run.preflight)
    blocks.push(heading(3, 'Pre-flight checklist'), {
      type: 'checklist',
      id: 'preflight-checklist',
      items: run.preflight.checks,
    });
  if (run.migrations)
    blocks.push({ type: 'paragraph', id: 'migrations-source', parts: migrationSource(run.migrations) });
  if (run.backup?.key) blocks.push(paragraph('Backup: ', { code: run.backup.key }));
  if (run.migrate?.applied?.length)
    blocks.push(
      paragraph(`Applied in this run: ${run.migrate.applied.map((a) => shortValue(a, 80)).join(', ')}`),
    );
  return blocks;
}

function tableSizes(report: DatabaseReport): Block[] {
  return [
    heading(2, 'Table sizes'),
    { type: 'size-chart', report },
    heading(2, `Tables (${report.tables.length} of ${report.tableCount}, largest first)`),
    {
      type: 'table',
      id: 'tables',
      head: [
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
      rows: report.tables.map((t) => [
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
      ]),
      numeric: [1, 2, 3, 4, 5, 6, 7],
    },
  ];
}

function alembicLine(alembic: NonNullable<DatabaseReport['migrations']['alembic']>): Block {
  const versions: Inline[] =
    alembic.versions.length === 0
      ? ['(empty)']
      : alembic.versions.flatMap((v, i): Inline[] => [...(i > 0 ? [', '] : []), { code: v }]);
  return {
    type: 'paragraph',
    id: 'alembic',
    parts: ['Alembic (', { code: alembic.table }, '): ', ...versions],
  };
}

function migrations(report: DatabaseReport): Block[] {
  const m = report.migrations;
  const blocks: Block[] = [heading(2, 'Migrations')];
  if (!m.tracked)
    blocks.push({ type: 'paragraph', tone: 'none', parts: ['pgshift has not migrated this database yet.'] });
  blocks.push({
    type: 'table',
    id: 'migrations',
    head: ['version', 'name', 'applied at', 'by', 'direction'],
    rows: m.applied.map((a) => [a.version, a.name, a.appliedAt, a.appliedBy, a.direction]),
  });
  if (m.alembic) blocks.push(alembicLine(m.alembic));
  blocks.push(heading(3, 'History'), {
    type: 'table',
    id: 'history',
    head: ['when', 'event', 'version', 'name', 'status', 'execution', 'error'],
    rows: m.history.map((h) => [h.startedAt, h.event, h.version, h.name, h.status, h.executionId, h.error]),
  });
  return blocks;
}

function activity(report: DatabaseReport): Block[] {
  const s = report.server;
  return [
    heading(2, 'Backups'),
    {
      type: 'table',
      id: 'backups',
      head: ['finished', 'key', 'size', 'compression', 'reason'],
      rows: report.backups.map((b) => [
        b.finishedAt,
        b.key,
        formatBytes(b.sizeBytes),
        b.compression,
        b.reason,
      ]),
    },
    heading(2, 'Connections'),
    paragraph(
      `${s.connections.total} of ${s.maxConnections} (${s.reservedConnections} reserved for superusers)`,
    ),
    {
      type: 'table',
      id: 'connections',
      head: ['state', 'count'],
      rows: Object.entries(s.connections.byState),
      numeric: [1],
    },
    heading(2, 'Locks'),
    {
      type: 'table',
      id: 'locks',
      head: ['pid', 'relation', 'type', 'mode', 'granted', 'waiting s'],
      rows: report.locks.map((l) => [l.pid, l.relation, l.lockType, l.mode, l.granted, l.waitingSeconds]),
    },
    heading(2, `Queries running longer than ${report.thresholds.longQuerySeconds} s`),
    {
      type: 'table',
      id: 'long-queries',
      head: ['pid', 'user', 'state', 'seconds', 'query'],
      rows: report.longRunningQueries.map((q) => [q.pid, q.user, q.state, q.durationSeconds, q.query]),
    },
  ];
}

function schema(report: DatabaseReport): Block[] {
  const blocks: Block[] = [];
  if (report.drift)
    blocks.push(
      heading(2, 'Drift'),
      {
        type: 'paragraph',
        tone: report.drift.ok ? 'pass' : 'fail',
        parts: [report.drift.ok ? 'No drift.' : 'The live schema differs from the recorded one:'],
      },
      { type: 'list', id: 'drift', items: report.drift.summary ?? [] },
    );
  if (report.diff) blocks.push({ type: 'schema-diff', diff: report.diff });
  return blocks;
}

/** The report's sections, in reading order. */
export function reportSections(report: DatabaseReport): Block[] {
  return [
    ...overview(report),
    ...thisRun(report),
    ...tableSizes(report),
    ...migrations(report),
    ...activity(report),
    ...schema(report),
  ];
}
