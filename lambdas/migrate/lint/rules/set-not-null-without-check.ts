import { findAll } from '../analyze';
import { records, text, unwrap } from '../../parse-tree';
import { nodeKind } from '../../statements';
import { describeSize, severityBySize, type PgshiftRule, type RuleHit } from '../rule';
import type { ParsedStatement } from '../../types';

/** The column a `CHECK (col IS NOT NULL)` constraint node tests, if that is all it tests. */
export function notNullCheckColumn(constraint: Record<string, unknown>): string | undefined {
  const test = unwrap(constraint.raw_expr, 'NullTest');
  if (!test || test.nulltesttype !== 'IS_NOT_NULL') return undefined;
  const fields = records(findAll(test.arg, 'fields')[0]);
  return text(unwrap(fields.at(-1), 'String')?.sval);
}

/** Columns given a validated `CHECK (col IS NOT NULL)` by statements before `before` in this migration. */
function checkedHere(statements: ParsedStatement[], before: number): Set<string> {
  const added = new Map<string, string>();
  const cols = new Set<string>();
  for (const stmt of statements.slice(0, before)) {
    const { kind, body } = nodeKind(stmt.node);
    if (kind !== 'AlterTableStmt') continue;
    for (const wrapped of records(body.cmds)) {
      const cmd = unwrap(wrapped, 'AlterTableCmd') ?? {};
      const c = unwrap(cmd.def, 'Constraint');
      if (cmd.subtype === 'AT_AddConstraint' && c?.contype === 'CONSTR_CHECK') {
        const col = notNullCheckColumn(c);
        if (col && c.skip_validation !== true) cols.add(col);
        else if (col && typeof c.conname === 'string') added.set(c.conname, col);
      }
      const validated = cmd.subtype === 'AT_ValidateConstraint' ? added.get(text(cmd.name) ?? '') : undefined;
      if (validated !== undefined) cols.add(validated);
    }
  }
  return cols;
}

/** SET NOT NULL scans the whole table under ACCESS EXCLUSIVE unless a validated CHECK already proves it. */
export const setNotNullWithoutCheck: PgshiftRule = {
  id: 'set-not-null-without-check',
  dataAware: true,
  check(ctx) {
    const hits: RuleHit[] = [];
    for (const stmt of ctx.statements) {
      const { kind, body } = nodeKind(stmt.node);
      if (kind !== 'AlterTableStmt') continue;
      const touch = ctx.touches[stmt.index]?.[0];
      if (!touch) continue;
      const severity = severityBySize(touch, ctx.thresholds);
      if (!severity) continue;
      const proven = new Set([...(touch.notNullChecks ?? []), ...checkedHere(ctx.statements, stmt.index)]);
      for (const wrapped of records(body.cmds)) {
        const cmd = unwrap(wrapped, 'AlterTableCmd') ?? {};
        if (cmd.subtype !== 'AT_SetNotNull' || proven.has(String(cmd.name))) continue;
        hits.push({
          statementIndex: stmt.index,
          severity,
          message: `SET NOT NULL on "${String(cmd.name)}" scans ${describeSize(touch)} under an ACCESS EXCLUSIVE lock.`,
          help: `First ADD CONSTRAINT ${String(cmd.name)}_not_null CHECK (${String(cmd.name)} IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (no write lock), then SET NOT NULL (PostgreSQL 12+ skips the scan) and drop the CHECK.`,
        });
      }
    }
    return hits;
  },
};
