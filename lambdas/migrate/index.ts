/** The migrate step's core: the CLI, the local runner and the Lambda handler call these. */
export { loadMigrations, checksumOf } from './files';
export {
  packMigrations,
  uploadBundle,
  loadBundle,
  bundleKeyOf,
  BUNDLE_PREFIX,
  type BundleRef,
  type PackedBundle,
  type MigrationSource,
} from './bundle';
export { applyMigrations } from './runner';
export {
  planMigrations,
  dryRun,
  type MigrationPlan,
  type DryRunResult,
  type DryRunOptions,
} from './runner/plan';
export type { ApplyOptions, ApplyResult } from './runner/apply';
export { downgradeMigrations, type DowngradeOptions, type DowngradeResult } from './runner/downgrade';
export { findInvalidIndexes, type InvalidIndex } from './runner/invalid-index';
export {
  verifyMigrations,
  baselineDatabase,
  readAlembicVersion,
  type VerifyStatus,
  type BaselineResult,
} from './verify';
export {
  lintMigrations,
  analyzeMigrations,
  parseSeverityOverrides,
  squawkBinary,
  PGSHIFT_RULES,
  SQUAWK_DEFAULT_SEVERITY,
  DEFAULT_THRESHOLDS,
  type LintOptions,
  type LintResult,
  type AllowedFinding,
} from './lint';
export { MIGRATION_LOCK_KEY } from './lock';
export type { Migration, MigrationScript, LintFinding, ProgressCallback, Severity } from './types';
