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
export {
  changesOfRisk,
  DEFAULT_LARGE_TABLE_BYTES,
  describeChange,
  diffSnapshots,
  RISK_CLASSES,
} from './diff';
export type { AttributeChange, DiffCounts, DiffOptions, RiskClass, SchemaChange, SchemaDiff } from './diff';
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
