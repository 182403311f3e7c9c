import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMigrations, PGSHIFT_RULES } from '../../lambdas/migrate';
import { statementTouches } from '../../lambdas/migrate/lint/analyze';
import { DEFAULT_THRESHOLDS, type MeasuredTouch, type RuleContext } from '../../lambdas/migrate/lint/rule';
import { parseStatements } from '../../lambdas/migrate/statements';
import type { Migration, Severity } from '../../lambdas/migrate/types';
import { present } from './present';

/** A migration loaded the way pgshift loads a folder, from a one-file folder holding `sql`. */
export async function migrationFromSql(sql: string, name = '1_m.up.sql'): Promise<Migration> {
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-lint-'));
  await writeFile(join(dir, name), sql);
  return present((await loadMigrations(dir))[0], `the migration ${name}`);
}

/** Catalog measurements of an existing table, by size class (DEFAULT_THRESHOLDS: large is ≥ 100 MiB). */
export const LARGE = { sizeBytes: 2 * 1024 ** 3, estimatedRows: 5_000_000, hasRows: true };
export const SMALL = { sizeBytes: 64 * 1024, estimatedRows: 300, hasRows: true };
export const EMPTY = { sizeBytes: 8192, estimatedRows: 0, hasRows: false };

/** The context a rule sees, with every existing table measured as `size` (what the catalog would say). */
export async function ruleContext(migration: Migration, size: Partial<MeasuredTouch>): Promise<RuleContext> {
  const statements = parseStatements(migration.up.sql, migration.file);
  const created = new Set<string>();
  const touches = statements.map((s) =>
    statementTouches(s, created).map((t) => ({
      ...t,
      schema: t.schema ?? 'public',
      ...(t.createdHere ? {} : size),
    })),
  );
  return { migration, statements, touches, measured: true, thresholds: DEFAULT_THRESHOLDS };
}

/** A rule's finding where `pgshift lint` reports it: the file and 1-based line of the statement it names. */
export interface RuleFinding {
  file: string;
  line: number;
  severity: Severity;
  message: string;
}

/** What rule `id` finds in a migration file holding `sql`, each existing table measured as `size`. */
export async function ruleFindings(
  id: string,
  sql: string,
  size: Partial<MeasuredTouch>,
  name = '1_m.up.sql',
): Promise<RuleFinding[]> {
  const rule = PGSHIFT_RULES.find((x) => x.id === id);
  if (!rule) throw new Error(`no pgshift lint rule "${id}"`);
  const migration = await migrationFromSql(sql, name);
  const ctx = await ruleContext(migration, size);
  return rule.check(ctx).map((hit) => ({
    file: migration.file,
    line: present(ctx.statements[hit.statementIndex], "the finding's statement").line,
    severity: hit.severity,
    message: hit.message,
  }));
}
