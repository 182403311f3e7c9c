import { z } from 'zod';
import {
  defineReader,
  notExtensionMember,
  nullableText,
  ownership,
  REL_QNAME,
  sortedStrings,
  text,
  textArray,
  userNamespace,
} from './reader';

/** Views and materialized views: one query, filed under their own kinds. */
export const viewReader = defineReader({
  kind: 'view',
  sql: () => `
    SELECT ${REL_QNAME} AS qname, n.nspname, c.relkind, pg_get_viewdef(c.oid, true) AS def, c.reloptions,
           d.description, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
     WHERE c.relkind IN ('v', 'm') AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    relkind: text,
    def: nullableText,
    reloptions: textArray,
    description: nullableText,
    owner: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx) => ({
    kind: r.relkind === 'm' ? 'materialized_view' : 'view',
    name: r.qname,
    object: {
      schema: r.nspname,
      definition: r.def,
      options: sortedStrings(r.reloptions),
      comment: r.description,
      ...ownership(ctx, r),
    },
  }),
});
