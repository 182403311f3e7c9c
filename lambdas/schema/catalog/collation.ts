import { z } from 'zod';
import { defineReader, named, notExtensionMember, nullableText, text, userNamespace } from './reader';

const COLLATION_PROVIDERS: Record<string, string> = { c: 'libc', i: 'icu', b: 'builtin', d: 'default' };

/** pg_collation as JSON: its locale columns differ by major (colliculocale 15-16, colllocale 17+). */
const collationColumns = z.object({
  collprovider: text,
  collisdeterministic: z.boolean().optional(),
  collcollate: nullableText.optional(),
  collctype: nullableText.optional(),
  colllocale: nullableText.optional(),
  colliculocale: nullableText.optional(),
  collicurules: nullableText.optional(),
});

export const collationReader = defineReader({
  kind: 'collation',
  sql: () => `
    SELECT quote_ident(n.nspname) || '.' || quote_ident(co.collname) AS qname, n.nspname, to_jsonb(co) AS c,
           pg_encoding_to_char(co.collencoding) AS encoding, d.description,
           pg_get_userbyid(co.collowner) AS owner
      FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
      LEFT JOIN pg_description d ON d.objoid = co.oid AND d.classoid = 'pg_collation'::regclass
     WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_collation', 'co.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    c: collationColumns,
    encoding: text,
    description: nullableText,
    owner: nullableText,
  }),
  toObject: ({ c, ...r }, ctx) => ({
    kind: 'collation',
    name: r.qname,
    object: {
      schema: r.nspname,
      provider: named(COLLATION_PROVIDERS, c.collprovider),
      deterministic: c.collisdeterministic ?? true,
      collate: c.collcollate,
      ctype: c.collctype,
      locale: c.colllocale ?? c.colliculocale,
      icuRules: c.collicurules,
      // -1: any encoding
      encoding: r.encoding === '' ? undefined : r.encoding,
      comment: r.description,
      ...(ctx.includeOwnership ? { owner: r.owner } : {}),
    },
  }),
});
