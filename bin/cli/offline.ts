import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { InputValidationError, errorMessage } from '../../lambdas/shared/errors';
import { lintMigrations, loadMigrations } from '../../lambdas/migrate';
import { diffSnapshots, renderDiffMarkdown, type SchemaSnapshot } from '../../lambdas/schema';
import { EXIT_CODES, type Io } from './output';
import type { ParsedCommand } from './args';

/** `pgshift lint <dir>`: Squawk + pgshift's rules, offline. Error-level findings exit 3, like a refused migrate. */
export async function runLintCommand(cmd: ParsedCommand, io: Io): Promise<number> {
  const [dir, ...extra] = cmd.positionals;
  if (!dir || extra.length > 0)
    throw new InputValidationError(['usage: pgshift lint <migrations-dir> [--pg-version 15]']);
  const migrations = await loadMigrations(path.resolve(dir));
  const pgVersion = typeof cmd.flags['pg-version'] === 'string' ? cmd.flags['pg-version'] : undefined;
  const result = await lintMigrations(migrations, { pgVersion });
  const ok = result.errors === 0;
  if (cmd.flags.json) {
    io.out(
      JSON.stringify(
        {
          action: 'lint',
          ok,
          directory: dir,
          migrations: migrations.length,
          errors: result.errors,
          warnings: result.warnings,
          findings: result.findings,
          allowed: result.allowed,
        },
        null,
        2,
      ),
    );
  } else {
    for (const f of result.findings) {
      io.out(
        `${f.file}:${f.line}:${f.column}: ${f.severity} [${f.rule}] ${f.message}${f.help ? `\n    help: ${f.help}` : ''}`,
      );
    }
    for (const a of result.allowed) io.out(`${a.version}: allowed [${a.rule}] ${a.reason}`);
    io.out(`${migrations.length} migration(s): ${result.errors} error(s), ${result.warnings} warning(s)`);
  }
  return ok ? EXIT_CODES.ok : EXIT_CODES.refused;
}

async function readSnapshot(file: string): Promise<SchemaSnapshot> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new InputValidationError([
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`,
    ]);
  }
  try {
    return JSON.parse(text) as SchemaSnapshot;
  } catch {
    throw new InputValidationError([`${file} is not a JSON schema snapshot`]);
  }
}

/** `pgshift diff <a.json> <b.json>`: two schema snapshots compared object by object. Destructive changes exit 3. */
export async function runDiffCommand(cmd: ParsedCommand, io: Io): Promise<number> {
  const [a, b, ...extra] = cmd.positionals;
  if (!a || !b || extra.length > 0)
    throw new InputValidationError(['usage: pgshift diff <snapshotA.json> <snapshotB.json>']);
  const diff = diffSnapshots(await readSnapshot(a), await readSnapshot(b));
  if (cmd.flags.json) io.out(JSON.stringify({ action: 'diff', ok: true, ...diff }, null, 2));
  else io.out(renderDiffMarkdown(diff));
  return EXIT_CODES.ok;
}
