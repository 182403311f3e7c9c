import { z } from 'zod';
import {
  defineReader,
  notExtensionMember,
  nullableText,
  ownership,
  text,
  textArray,
  userNamespace,
  type CatalogEntry,
} from './reader';

/** Enums, domains and composite types: one query over pg_type, filed under their own kinds. */
export const typeReader = defineReader({
  kind: 'enum',
  sql: () => `
    SELECT quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS qname, n.nspname, t.typtype,
           CASE WHEN t.typtype = 'e' THEN
             (SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) END AS labels,
           CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) END AS base_type,
           t.typnotnull, t.typdefault,
           CASE WHEN t.typtype = 'd' THEN
             (SELECT array_agg(quote_ident(co.conname) || ' ' || pg_get_constraintdef(co.oid, true)
                               || CASE WHEN co.convalidated THEN '' ELSE ' (not validated)' END ORDER BY co.conname)
                FROM pg_constraint co WHERE co.contypid = t.oid) END AS checks,
           CASE WHEN t.typtype = 'c' THEN
             (SELECT array_agg(quote_ident(a.attname) || ' ' || format_type(a.atttypid, a.atttypmod) ORDER BY a.attnum)
                FROM pg_attribute a WHERE a.attrelid = t.typrelid AND a.attnum > 0 AND NOT a.attisdropped) END AS attributes,
           CASE WHEN t.typcollation <> 0 AND t.typtype = 'd' AND t.typcollation <> bt.typcollation
                THEN (SELECT quote_ident(cn.nspname) || '.' || quote_ident(co.collname)
                        FROM pg_collation co JOIN pg_namespace cn ON cn.oid = co.collnamespace
                       WHERE co.oid = t.typcollation) END AS collation,
           d.description, pg_get_userbyid(t.typowner) AS owner, t.typacl::text[] AS acl
      FROM pg_type t
      JOIN pg_namespace n ON n.oid = t.typnamespace
      LEFT JOIN pg_type bt ON bt.oid = t.typbasetype
      LEFT JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_type'::regclass
     WHERE (t.typtype IN ('e', 'd')
            OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
       AND ${userNamespace('n')} AND ${notExtensionMember('pg_type', 't.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    typtype: text,
    labels: textArray,
    base_type: nullableText,
    typnotnull: z.boolean(),
    typdefault: nullableText,
    checks: textArray,
    attributes: textArray,
    collation: nullableText,
    description: nullableText,
    owner: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx): CatalogEntry => {
    const common = { schema: r.nspname, comment: r.description, ...ownership(ctx, r) };
    if (r.typtype === 'e') return { kind: 'enum', name: r.qname, object: { ...common, labels: r.labels } };
    if (r.typtype === 'd')
      return {
        kind: 'domain',
        name: r.qname,
        object: {
          ...common,
          baseType: r.base_type,
          notNull: r.typnotnull,
          default: r.typdefault,
          checks: r.checks,
          collation: r.collation,
        },
      };
    return { kind: 'composite_type', name: r.qname, object: { ...common, attributes: r.attributes } };
  },
});
