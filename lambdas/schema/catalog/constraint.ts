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

const CONSTRAINT_TYPES: Record<string, string> = {
  p: 'primary key',
  f: 'foreign key',
  u: 'unique',
  c: 'check',
  x: 'exclusion',
  t: 'constraint trigger',
};
const FK_ACTIONS: Record<string, string> = {
  a: 'no action',
  r: 'restrict',
  c: 'cascade',
  n: 'set null',
  d: 'set default',
};

export const constraintReader = defineReader({
  kind: 'constraint',
  sql: () => `
    SELECT ${REL_QNAME} AS tqname, n.nspname, quote_ident(co.conname) AS qconname, co.contype,
           pg_get_constraintdef(co.oid, true) AS def, co.convalidated, co.condeferrable, co.condeferred,
           co.confupdtype, co.confdeltype,
           (SELECT quote_ident(fn.nspname) || '.' || quote_ident(fc.relname) FROM pg_class fc
              JOIN pg_namespace fn ON fn.oid = fc.relnamespace WHERE fc.oid = co.confrelid) AS references,
           d.description
      FROM pg_constraint co
      JOIN pg_class c ON c.oid = co.conrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_description d ON d.objoid = co.oid AND d.classoid = 'pg_constraint'::regclass
     WHERE co.conrelid <> 0 AND ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    tqname: text,
    nspname: text,
    qconname: text,
    contype: text,
    def: nullableText,
    convalidated: z.boolean(),
    condeferrable: z.boolean(),
    condeferred: z.boolean(),
    confupdtype: text,
    confdeltype: text,
    references: nullableText,
    description: nullableText,
  }),
  toObject: (r) => {
    const fk = r.contype === 'f';
    return {
      kind: 'constraint',
      name: scopedName(r.tqname, r.qconname),
      object: {
        schema: r.nspname,
        table: r.tqname,
        type: named(CONSTRAINT_TYPES, r.contype),
        definition: r.def,
        validated: r.convalidated,
        deferrable: r.condeferrable,
        initiallyDeferred: r.condeferred,
        references: fk ? r.references : undefined,
        onUpdate: fk ? FK_ACTIONS[r.confupdtype] : undefined,
        onDelete: fk ? FK_ACTIONS[r.confdeltype] : undefined,
        comment: r.description,
      },
    };
  },
});
