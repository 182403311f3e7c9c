import { idempotentForm } from '../../statements';
import type { PgshiftRule, RuleHit } from '../rule';

/**
 * A `-- pgshift:no-transaction` migration can stop half-way; its statements must be safe to run again
 * (IF NOT EXISTS / IF EXISTS), because re-running the migration is how it is finished.
 */
export const nonIdempotentNoTransaction: PgshiftRule = {
  id: 'non-idempotent-no-transaction',
  dataAware: false,
  check(ctx) {
    if (!ctx.migration.up.noTransaction) return [];
    const hits: RuleHit[] = [];
    for (const stmt of ctx.statements) {
      // A kind without an IF [NOT] EXISTS form is not flagged (a warning on every UPDATE would be noise).
      if (idempotentForm(stmt.node) !== false) continue;
      hits.push({
        statementIndex: stmt.index,
        severity: 'warning',
        message:
          'This statement runs outside a transaction and cannot be re-run safely if the migration stops after it.',
        help: 'Write it with IF NOT EXISTS / IF EXISTS so that re-running the migration after a partial failure finishes it.',
      });
    }
    return hits;
  },
};
