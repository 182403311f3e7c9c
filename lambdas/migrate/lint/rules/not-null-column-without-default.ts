import { columnInfo } from '../analyze';
import { records, unwrap } from '../../parse-tree';
import { nodeKind } from '../../statements';
import { sizeClass, type PgshiftRule, type RuleHit } from '../rule';

/** ADD COLUMN ... NOT NULL without a DEFAULT fails on a table that holds rows (and locks it while failing). */
export const notNullColumnWithoutDefault: PgshiftRule = {
  id: 'not-null-column-without-default',
  dataAware: true,
  check(ctx) {
    const hits: RuleHit[] = [];
    for (const stmt of ctx.statements) {
      const { kind, body } = nodeKind(stmt.node);
      if (kind !== 'AlterTableStmt') continue;
      const touch = ctx.touches[stmt.index]?.[0];
      if (!touch) continue;
      const cls = sizeClass(touch, ctx.thresholds);
      if (cls !== 'small' && cls !== 'large') continue;
      for (const wrapped of records(body.cmds)) {
        const cmd = unwrap(wrapped, 'AlterTableCmd') ?? {};
        const def = unwrap(cmd.def, 'ColumnDef');
        if (cmd.subtype !== 'AT_AddColumn' || !def) continue;
        const info = columnInfo(def);
        if (info.notNull && !info.hasDefault) {
          hits.push({
            statementIndex: stmt.index,
            severity: 'error',
            message: `Column "${String(def.colname)}" is added NOT NULL without a default to ${touch.schema}.${touch.table}, which holds rows: PostgreSQL will refuse it.`,
            help: 'Add the column with a constant DEFAULT (no rewrite since PostgreSQL 11), or add it nullable, backfill in batches, then add a NOT VALID CHECK, VALIDATE it, and SET NOT NULL.',
          });
        }
      }
    }
    return hits;
  },
};
