import { z } from 'zod';
import {
  defineReader,
  notExtensionMember,
  nullableText,
  ownership,
  text,
  textArray,
  userNamespace,
} from './reader';

export const schemaReader = defineReader({
  kind: 'schema',
  sql: () => `
    SELECT n.nspname, quote_ident(n.nspname) AS qname, d.description, pg_get_userbyid(n.nspowner) AS owner,
           n.nspacl::text[] AS acl
      FROM pg_namespace n
      LEFT JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass
     WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_namespace', 'n.oid')}`,
  row: z.object({
    nspname: text,
    qname: text,
    description: nullableText,
    owner: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx) => ({
    kind: 'schema',
    name: r.qname,
    object: { schema: r.nspname, comment: r.description, ...ownership(ctx, r) },
  }),
});
