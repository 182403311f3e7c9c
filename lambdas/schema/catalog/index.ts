/**
 * Every catalog reader, in the order the snapshot runs them. A new object kind: add it to OBJECT_KINDS
 * (schema/model.ts), write its reader beside these (`{ kind, sql, row, toObject }`) and list it here.
 */
import { collationReader } from './collation';
import { columnReader } from './column';
import { constraintReader } from './constraint';
import { extensionReader } from './extension';
import { functionReader } from './function';
import { indexReader } from './index-kind';
import { policyReader } from './policy';
import type { RowReader } from './reader';
import { schemaReader } from './schema';
import { sequenceReader } from './sequence';
import { tableReader } from './table';
import { triggerReader } from './trigger';
import { typeReader } from './type';
import { viewReader } from './view';

export const CATALOG_READERS: readonly RowReader[] = [
  schemaReader,
  extensionReader,
  collationReader,
  tableReader,
  columnReader,
  constraintReader,
  indexReader,
  viewReader,
  functionReader,
  triggerReader,
  sequenceReader,
  typeReader,
  policyReader,
];
export type { CatalogContext, CatalogEntry, CatalogReader, RowReader } from './reader';
