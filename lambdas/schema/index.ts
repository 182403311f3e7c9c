/** The schema core: Lambda-free, called by the schema handler, the report, the CLI and the local runner. */
export { canonicalize, canonicalJson } from './canonical';
export {
  countObjects,
  EXCLUDED_SCHEMAS,
  OBJECT_KINDS,
  serializeSnapshot,
  snapshotSchema,
  withoutStats,
} from './snapshot';
export type { ObjectKind, SchemaObject, SchemaSnapshot, SnapshotOptions, TableStats } from './snapshot';
export { changesOfRisk, DEFAULT_LARGE_TABLE_BYTES, describeChange, diffSnapshots } from './diff';
export type { AttributeChange, DiffCounts, DiffOptions, SchemaChange, SchemaDiff } from './diff';
export { HAZARD_KINDS, HAZARD_LABELS, HAZARD_SEVERITY, riskOf, RISK_CLASSES } from './hazards';
export type { Hazard, HazardKind, RiskClass } from './hazards';
export { describeHazard, describeHazards, diffAlertLines, diffStepSummary } from './summary';
export type { DiffStepSummary } from './summary';
export { classifyTypeChange, parseFormattedType } from './type-change';
export { mdCode, renderDiffMarkdown, shortValue } from './render';
export { unifiedSchemaDiff } from './unified';
export { dumpSchemaSql } from './dump';
export type { SchemaDumpOptions } from './dump';
export { detectDrift, diffStoredSnapshots, recordSchemaSnapshot } from './steps';
export type {
  DetectDriftOptions,
  DriftResult,
  RecordedSnapshot,
  RecordSnapshotOptions,
  SchemaDeps,
  StoredDiff,
  StoredDiffOptions,
} from './steps';
