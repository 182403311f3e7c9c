import { describeSize, severityBySize, type PgshiftRule, type RuleHit } from '../rule';

/** A statement that rewrites a table holds ACCESS EXCLUSIVE for as long as the copy takes. */
export const tableRewriteOnLargeTable: PgshiftRule = {
  id: 'table-rewrite-on-large-table',
  dataAware: true,
  check(ctx) {
    const hits: RuleHit[] = [];
    for (const stmt of ctx.statements) {
      for (const t of ctx.touches[stmt.index] ?? []) {
        const severity = t.rewrite ? severityBySize(t, ctx.thresholds) : undefined;
        if (!severity) continue;
        hits.push({
          statementIndex: stmt.index,
          severity,
          message: `This statement rewrites ${describeSize(t)} under an ACCESS EXCLUSIVE lock: reads and writes wait until it finishes.`,
          help: 'Avoid the rewrite: add a new column and backfill in batches, use a constant default, or make the change in a maintenance window.',
        });
      }
    }
    return hits;
  },
};
