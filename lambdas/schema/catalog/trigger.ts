import { z } from 'zod';
import {
  defineReader,
  named,
  notExtensionMember,
  nullableText,
  REL_QNAME,
  scopedName,
  text,
  userNamespace,
} from './reader';

const TRIGGER_ENABLED: Record<string, string> = { O: 'origin', D: 'disabled', R: 'replica', A: 'always' };

export const triggerReader = defineReader({
  kind: 'trigger',
  sql: () => `
    SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(t.tgname) AS qtgname, pg_get_triggerdef(t.oid, true) AS def,
           t.tgenabled, d.description
      FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_description d ON d.objoid = t.oid AND d.classoid = 'pg_trigger'::regclass
     WHERE NOT t.tgisinternal AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    tqname: text,
    nspname: text,
    qtgname: text,
    def: nullableText,
    tgenabled: text,
    description: nullableText,
  }),
  toObject: (r) => ({
    kind: 'trigger',
    name: scopedName(r.tqname, r.qtgname),
    object: {
      schema: r.nspname,
      table: r.tqname,
      definition: r.def,
      enabled: named(TRIGGER_ENABLED, r.tgenabled),
      comment: r.description,
    },
  }),
});
