import { describeSize, severityBySize, type PgshiftRule, type RuleHit } from '../rule';

/** An index built without CONCURRENTLY blocks every write to the table for the whole build. */
export const blockingIndexBuildOnLargeTable: PgshiftRule = {
  id: 'blocking-index-build-on-large-table',
  dataAware: true,
  check(ctx) {
    const hits: RuleHit[] = [];
    for (const stmt of ctx.statements) {
      for (const t of ctx.touches[stmt.index] ?? []) {
        if (!t.indexBuild || t.lock === 'SHARE UPDATE EXCLUSIVE') continue;
        const severity = severityBySize(t, ctx.thresholds);
        if (!severity) continue;
        hits.push({
          statementIndex: stmt.index,
          severity,
          message: `This statement builds an index on ${describeSize(t)} while holding a ${t.lock} lock: writes wait for the whole build.`,
          help: 'Use CREATE INDEX CONCURRENTLY in a migration marked "-- pgshift:no-transaction" (and for a constraint: ADD CONSTRAINT ... USING INDEX).',
        });
      }
    }
    return hits;
  },
};
