import type { PgshiftRule } from '../rule';
import { blockingIndexBuildOnLargeTable } from './blocking-index-build-on-large-table';
import { nonIdempotentNoTransaction } from './non-idempotent-no-transaction';
import { notNullColumnWithoutDefault } from './not-null-column-without-default';
import { setNotNullWithoutCheck } from './set-not-null-without-check';
import { tableRewriteOnLargeTable } from './table-rewrite-on-large-table';

/** pgshift's own rules, on top of Squawk's; each is documented in docs/lint-rules.md. */
export const PGSHIFT_RULES: PgshiftRule[] = [
  notNullColumnWithoutDefault,
  tableRewriteOnLargeTable,
  blockingIndexBuildOnLargeTable,
  setNotNullWithoutCheck,
  nonIdempotentNoTransaction,
];
