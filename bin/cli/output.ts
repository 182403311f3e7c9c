import { PgshiftError, type ErrorOutcome } from '../../lambdas/shared/errors';

/** The documented exit codes (docs/cli.md). */
export const EXIT_CODES: Record<'ok' | ErrorOutcome, number> = {
  ok: 0,
  failed: 1,
  'bad-input': 2,
  refused: 3,
};

export function outcomeOf(err: unknown): ErrorOutcome {
  if (err instanceof PgshiftError) return err.outcome;
  // A Step Functions failure carries the step's error name only: map it back through the known classes.
  const name = (err as { name?: string })?.name;
  if (name && REFUSED.has(name)) return 'refused';
  if (name && BAD_INPUT.has(name)) return 'bad-input';
  return 'failed';
}

const REFUSED = new Set([
  'PreflightFailedError',
  'BackupCorruptError',
  'UnsafeMigrationError',
  'MigrationLockedError',
  'InterruptedMigrationError',
  'DriftDetectedError',
  'RestoreRefusedError',
  'MigrationBundleMismatchError',
]);
const BAD_INPUT = new Set([
  'InputValidationError',
  'ConfigurationError',
  'BackupNotFoundError',
  'MigrationFileError',
  'MigrationBundleNotFoundError',
]);

export function exitCodeFor(err: unknown): number {
  return EXIT_CODES[outcomeOf(err)];
}

/** One line a person can act on; never a stack trace. */
export function errorLine(err: unknown): string {
  const name = (err as { name?: string })?.name ?? 'Error';
  const message = err instanceof Error ? err.message : String(err);
  return `pgshift: ${name === 'Error' ? '' : name + ': '}${message.split('\n')[0]}`;
}

export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when stderr is a terminal: live progress lines are drawn only then. */
  tty: boolean;
  /** Draw progress on stderr even with --json (npm start wants both: the document and the progress). */
  progress?: boolean;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
  tty: Boolean(process.stderr.isTTY),
};
