import { z } from 'zod';
import {
  defineReader,
  named,
  notExtensionMember,
  nullableText,
  ownership,
  REL_QNAME,
  sortedStrings,
  text,
  textArray,
  userNamespace,
} from './reader';

const RELKINDS: Record<string, string> = { r: 'table', p: 'partitioned table', f: 'foreign table' };
const PERSISTENCE: Record<string, string> = { p: 'permanent', u: 'unlogged', t: 'temporary' };

export const tableReader = defineReader({
  kind: 'table',
  sql: () => `
    SELECT ${REL_QNAME} AS qname, n.nspname, c.relkind, c.relpersistence, c.relrowsecurity, c.relforcerowsecurity,
           CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
           CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
           (SELECT array_agg(quote_ident(pn.nspname) || '.' || quote_ident(pc.relname) ORDER BY i.inhseqno)
              FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
              JOIN pg_namespace pn ON pn.oid = pc.relnamespace WHERE i.inhrelid = c.oid) AS parents,
           c.reloptions, d.description, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
     WHERE c.relkind IN ('r', 'p', 'f') AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    relkind: text,
    relpersistence: text,
    relrowsecurity: z.boolean(),
    relforcerowsecurity: z.boolean(),
    partition_bound: nullableText,
    partition_key: nullableText,
    parents: textArray,
    reloptions: textArray,
    description: nullableText,
    owner: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx) => ({
    kind: 'table',
    name: r.qname,
    object: {
      schema: r.nspname,
      type: named(RELKINDS, r.relkind),
      persistence: named(PERSISTENCE, r.relpersistence),
      rowSecurity: r.relrowsecurity,
      forceRowSecurity: r.relforcerowsecurity,
      partitionKey: r.partition_key,
      partitionBound: r.partition_bound,
      parents: r.parents,
      storageOptions: sortedStrings(r.reloptions),
      comment: r.description,
      ...ownership(ctx, r),
    },
  }),
});
