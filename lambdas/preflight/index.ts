/** Pre-flight checks' public surface for the CLI, the local runner and the report. */
export { runPreflight, assertPreflightPassed, PREFLIGHT_CHECKS } from './run-preflight';
export {
  DEFAULT_THRESHOLDS,
  resolveThresholds,
  thresholdEnvName,
  thresholdsFromEnv,
  type PreflightThresholds,
} from './thresholds';
export { backupPgDumpVersion, imagePgDumpVersion } from './pg-dump-version';
export {
  CHECK_IDS,
  type CheckId,
  type PreflightDeps,
  type PreflightOptions,
  type StorageMetricsSource,
} from './types';
