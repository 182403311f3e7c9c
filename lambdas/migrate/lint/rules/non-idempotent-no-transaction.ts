import { nodeKind } from '../../statements';
import type { PgshiftRule, RuleHit } from '../rule';

/** Whether a statement can run again after a partial failure without erroring. */
function idempotent(node: Record<string, unknown>): boolean {
  const { kind, body } = nodeKind(node);
  switch (kind) {
    case 'IndexStmt':
    case 'CreateStmt':
      return body.if_not_exists === true;
    case 'DropStmt':
      return body.missing_ok === true;
    case 'AlterEnumStmt':
      return body.skipIfNewValExists === true || body.oldVal !== undefined;
    case 'AlterTableStmt':
      return ((body.cmds as { AlterTableCmd?: Record<string, unknown> }[]) ?? []).every((w) => {
        const cmd = w.AlterTableCmd ?? {};
        if (cmd.subtype === 'AT_AddColumn') return cmd.missing_ok === true;
        if (cmd.subtype === 'AT_DropColumn' || cmd.subtype === 'AT_DropConstraint')
          return cmd.missing_ok === true;
        return cmd.subtype !== 'AT_AddConstraint';
      });
    default:
      return true;
  }
}

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
      if (idempotent(stmt.node)) continue;
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
