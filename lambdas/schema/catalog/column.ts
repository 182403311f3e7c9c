import { z } from 'zod';
import {
  defineReader,
  notExtensionMember,
  nullableText,
  REL_QNAME,
  scopedName,
  sortedStrings,
  text,
  textArray,
  userNamespace,
} from './reader';

const IDENTITY: Record<string, string> = { a: 'always', d: 'by default' };

export const columnReader = defineReader({
  kind: 'column',
  sql: () => `
    SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(a.attname) AS qattname,
           format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.attislocal, a.attinhcount,
           pg_get_expr(ad.adbin, ad.adrelid) AS default_expr, a.attidentity, a.attgenerated,
           CASE WHEN a.attcollation <> t.typcollation
                THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                        FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                       WHERE co.oid = a.attcollation) END AS collation,
           d.description, a.attacl::text[] AS acl
      FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_type t ON t.oid = a.atttypid
      LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
      LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f')
       AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    tqname: text,
    nspname: text,
    qattname: text,
    type: text,
    attnotnull: z.boolean(),
    attislocal: z.boolean(),
    attinhcount: z.coerce.number(),
    default_expr: nullableText,
    attidentity: text,
    attgenerated: text,
    collation: nullableText,
    description: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx) => {
    const generated = r.attgenerated === 's';
    return {
      kind: 'column',
      name: scopedName(r.tqname, r.qattname),
      object: {
        schema: r.nspname,
        table: r.tqname,
        type: r.type,
        notNull: r.attnotnull,
        default: generated ? undefined : r.default_expr,
        generated: generated ? r.default_expr : undefined,
        identity: IDENTITY[r.attidentity],
        collation: r.collation,
        // Only for inherited columns: a locally declared one survives the parent dropping it.
        declaredLocally: r.attinhcount > 0 ? r.attislocal : undefined,
        comment: r.description,
        ...(ctx.includeOwnership ? { acl: sortedStrings(r.acl) } : {}),
      },
    };
  },
});
