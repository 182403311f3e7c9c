/**
 * The guards of `applyMigrations`, in the order it runs them: each refuses the run (throws) before any
 * migration is applied, and returns nothing when the run may go on.
 */
import type { ClientBase } from 'pg';
import {
  DriftDetectedError,
  InterruptedMigrationError,
  MigrationFailedError,
  MigrationFileError,
  UnsafeMigrationError,
} from '../../shared/errors';
import { statementsOf } from '../files';
import type { LintResult } from '../lint';
import { shorten } from '../statements';
import type { Migration, ParsedStatement } from '../types';
import { findInvalidIndexes, indexesBuilt, type InvalidIndex } from './invalid-index';
import { isRerunnable, lastInterrupted, mayHaveRun, type InterruptedAttempt } from './interrupted';
import type { MigrationPlan } from './plan';

/** Applied files edited since they were applied: the database and the folder no longer say the same. */
export function refuseDrift(plan: MigrationPlan): void {
  if (plan.checksumMismatches.length === 0) return;
  throw new DriftDetectedError(
    `Applied migration file(s) changed since they were applied: ${plan.checksumMismatches.map((c) => `${c.version} ${c.name}`).join(', ')}. Restore the original files (or write a new migration); run verify for details.`,
    { details: { checksumMismatches: plan.checksumMismatches } },
  );
}

/** Pending versions below the latest applied one, unless the run allows them. */
export function refuseOutOfOrder(plan: MigrationPlan, allowOutOfOrder: boolean): void {
  if (plan.outOfOrder.length === 0 || allowOutOfOrder) return;
  throw new MigrationFileError(
    `Pending migration(s) ${plan.outOfOrder.join(', ')} are older than the latest applied version; renumber them after it`,
    { details: { outOfOrder: plan.outOfOrder } },
  );
}

/** A single-transaction run cannot hold a script that must run outside a transaction. */
export function refuseNoTransactionInOneTransaction(pending: Migration[], singleTransaction: boolean): void {
  if (!singleTransaction) return;
  const noTx = pending.filter((m) => m.up.noTransaction);
  if (noTx.length === 0) return;
  throw new MigrationFileError(
    `Cannot apply in one transaction: ${noTx.map((m) => m.file).join(', ')} must run outside a transaction`,
  );
}

/** Error-level lint findings, unless the run allows unsafe migrations. */
export function refuseLintErrors(lint: LintResult, allowUnsafe: boolean): void {
  if (lint.errors === 0 || allowUnsafe) return;
  const first = lint.findings.filter((f) => f.severity === 'error').slice(0, 5);
  throw new UnsafeMigrationError(
    `${lint.errors} error-level lint finding(s); nothing was applied. ${first.map((f) => `${f.file}:${f.line} ${f.rule}: ${f.message}`).join(' | ')}. Fix them, waive one with "-- pgshift:allow <rule> <reason>", or run with allowUnsafe.`,
    { details: { errors: lint.errors, findings: first } },
  );
}

function interruptedHow(died: InterruptedAttempt | undefined): string | undefined {
  return died
    ? `the client of execution ${died.executionId} died while running it (started ${died.startedAt})`
    : undefined;
}

/** A concurrent index build that failed earlier left an INVALID index; IF NOT EXISTS would skip it silently. */
function refuseInvalidLeftovers(m: Migration, leftovers: InvalidIndex[], died?: InterruptedAttempt): void {
  if (leftovers.length === 0) return;
  const how = interruptedHow(died);
  throw new MigrationFailedError(
    `${m.file}: an earlier ${how ? `run was interrupted (${how}) and` : 'failed run'} left INVALID index(es) ${leftovers.map((i) => `${i.schema}.${i.index}`).join(', ')}; run ${leftovers.map((i) => i.fix).join(' ')} and apply again`,
    { details: { version: m.version, file: m.file, invalidIndexes: leftovers, interrupted: died } },
  );
}

/** Unchanged since it was interrupted and not safe to re-run: someone must look at what ran first. */
function refuseUnsafeRerun(m: Migration, statements: ParsedStatement[], died?: InterruptedAttempt): void {
  const unsafe =
    died && died.checksum === m.checksum ? mayHaveRun(statements, died).filter((x) => !isRerunnable(x)) : [];
  if (unsafe.length === 0) return;
  throw new InterruptedMigrationError(
    `${m.file}: an earlier run was interrupted (${interruptedHow(died) ?? ''}). It ran outside a transaction, so these statements may ` +
      `have run and stayed (which of them is unknown), and running them again is not safe: ` +
      `${unsafe.map((x) => `line ${x.line}: ${shorten(x.text, 120)}`).join('; ')}. pgshift does not re-run it as is. ` +
      'Check the database for what they create or change, then make them idempotent (IF NOT EXISTS / IF EXISTS) ' +
      'or remove the ones that ran (an edited file is how pgshift knows it was looked at), and apply again.',
    {
      details: {
        version: m.version,
        file: m.file,
        interrupted: died,
        mayHaveRun: unsafe.map((x) => shorten(x.text, 500)),
      },
    },
  );
}

/** Per pending no-transaction migration: what an earlier failed or interrupted run left must be dealt with first. */
export async function refuseEarlierRunLeftovers(client: ClientBase, pending: Migration[]): Promise<void> {
  const interrupted = await lastInterrupted(client);
  for (const m of pending.filter((x) => x.up.noTransaction)) {
    const statements = statementsOf(m.up, m.file);
    const died = interrupted.get(m.version);
    refuseInvalidLeftovers(m, await findInvalidIndexes(client, indexesBuilt(statements)), died);
    refuseUnsafeRerun(m, statements, died);
  }
}
