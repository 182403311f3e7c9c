import { z } from 'zod';
import {
  defineReader,
  named,
  notExtensionMember,
  nullableText,
  ownership,
  sortedStrings,
  text,
  textArray,
  userNamespace,
  type CatalogContext,
} from './reader';

const PROKINDS: Record<string, string> = { f: 'function', p: 'procedure', a: 'aggregate', w: 'window' };
const VOLATILITY: Record<string, string> = { i: 'immutable', s: 'stable', v: 'volatile' };
const PARALLEL: Record<string, string> = { s: 'safe', r: 'restricted', u: 'unsafe' };

/** SQL-standard bodies (PostgreSQL 14+) live in prosqlbody, with prosrc empty. */
function bodySql(ctx: CatalogContext): string {
  return ctx.serverVersionNum >= 140000
    ? `CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END`
    : `p.prosrc`;
}

export const functionReader = defineReader({
  kind: 'function',
  sql: (ctx) => `
    SELECT quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS qname,
           n.nspname, p.prokind, pg_get_function_arguments(p.oid) AS args, pg_get_function_result(p.oid) AS result,
           l.lanname, p.provolatile, p.prosecdef, p.proisstrict, p.proleakproof, p.proparallel, p.proconfig,
           encode(sha256(convert_to(${bodySql(ctx)}, 'UTF8')), 'hex') AS body_sha256,
           d.description, pg_get_userbyid(p.proowner) AS owner, p.proacl::text[] AS acl
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_language l ON l.oid = p.prolang
      LEFT JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_proc'::regclass
     WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_proc', 'p.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    prokind: text,
    args: nullableText,
    result: nullableText,
    lanname: text,
    provolatile: text,
    prosecdef: z.boolean(),
    proisstrict: z.boolean(),
    proleakproof: z.boolean(),
    proparallel: text,
    proconfig: textArray,
    body_sha256: nullableText,
    description: nullableText,
    owner: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx) => ({
    kind: 'function',
    name: r.qname,
    object: {
      schema: r.nspname,
      kind: named(PROKINDS, r.prokind),
      arguments: r.args,
      returns: r.result,
      language: r.lanname,
      volatility: VOLATILITY[r.provolatile],
      securityDefiner: r.prosecdef,
      strict: r.proisstrict,
      leakproof: r.proleakproof,
      parallel: PARALLEL[r.proparallel],
      settings: sortedStrings(r.proconfig),
      bodySha256: r.body_sha256,
      comment: r.description,
      ...ownership(ctx, r),
    },
  }),
});
