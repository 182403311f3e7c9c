import { z } from 'zod';
import { defineReader, notExtensionMember, nullableText, REL_QNAME, text, userNamespace } from './reader';

export const indexReader = defineReader({
  kind: 'index',
  sql: () => `
    SELECT quote_ident(n.nspname) || '.' || quote_ident(ic.relname) AS qname, n.nspname, ${REL_QNAME} AS tqname,
           pg_get_indexdef(i.indexrelid) AS def, i.indisunique, i.indisprimary, i.indpred IS NOT NULL AS partial,
           am.amname, i.indisvalid,
           (SELECT quote_ident(co.conname) FROM pg_constraint co WHERE co.conindid = i.indexrelid
               AND co.conrelid = i.indrelid AND co.contype IN ('p', 'u', 'x')) AS constraint_name,
           d.description
      FROM pg_index i
      JOIN pg_class ic ON ic.oid = i.indexrelid
      JOIN pg_class c ON c.oid = i.indrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      JOIN pg_am am ON am.oid = ic.relam
      LEFT JOIN pg_description d ON d.objoid = ic.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
     WHERE c.relkind IN ('r', 'p', 'm') AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    tqname: text,
    def: nullableText,
    indisunique: z.boolean(),
    indisprimary: z.boolean(),
    partial: z.boolean(),
    amname: text,
    indisvalid: z.boolean(),
    constraint_name: nullableText,
    description: nullableText,
  }),
  toObject: (r) => ({
    kind: 'index',
    name: r.qname,
    object: {
      schema: r.nspname,
      table: r.tqname,
      definition: r.def,
      unique: r.indisunique,
      primary: r.indisprimary,
      partial: r.partial,
      method: r.amname,
      valid: r.indisvalid,
      constraint: r.constraint_name,
      comment: r.description,
    },
  }),
});
