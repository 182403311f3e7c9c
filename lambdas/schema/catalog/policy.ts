import { z } from 'zod';
import {
  defineReader,
  named,
  nullableText,
  REL_QNAME,
  scopedName,
  text,
  textArray,
  userNamespace,
} from './reader';

const POLICY_COMMANDS: Record<string, string> = {
  r: 'SELECT',
  a: 'INSERT',
  w: 'UPDATE',
  d: 'DELETE',
  '*': 'ALL',
};

export const policyReader = defineReader({
  kind: 'policy',
  sql: () => `
    SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(p.polname) AS qpolname, p.polcmd, p.polpermissive,
           CASE WHEN p.polroles = '{0}' THEN ARRAY['public']
                ELSE (SELECT array_agg(quote_ident(rolname) ORDER BY rolname) FROM pg_roles WHERE oid = ANY (p.polroles)) END AS roles,
           pg_get_expr(p.polqual, p.polrelid) AS using_expr, pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr
      FROM pg_policy p
      JOIN pg_class c ON c.oid = p.polrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${userNamespace('n')}`,
  row: z.object({
    tqname: text,
    nspname: text,
    qpolname: text,
    polcmd: text,
    polpermissive: z.boolean(),
    roles: textArray,
    using_expr: nullableText,
    check_expr: nullableText,
  }),
  toObject: (r) => ({
    kind: 'policy',
    name: scopedName(r.tqname, r.qpolname),
    object: {
      schema: r.nspname,
      table: r.tqname,
      command: named(POLICY_COMMANDS, r.polcmd),
      permissive: r.polpermissive,
      roles: r.roles,
      using: r.using_expr,
      withCheck: r.check_expr,
    },
  }),
});
