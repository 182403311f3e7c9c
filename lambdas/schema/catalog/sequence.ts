import { z } from 'zod';
import {
  defineReader,
  notExtensionMember,
  nullableText,
  ownership,
  REL_QNAME,
  text,
  textArray,
  userNamespace,
} from './reader';

export const sequenceReader = defineReader({
  kind: 'sequence',
  sql: () => `
    SELECT ${REL_QNAME} AS qname, n.nspname, format_type(s.seqtypid, NULL) AS type, s.seqstart::text AS start,
           s.seqincrement::text AS increment, s.seqmin::text AS min, s.seqmax::text AS max, s.seqcache::text AS cache,
           s.seqcycle,
           (SELECT quote_ident(on_.nspname) || '.' || quote_ident(oc.relname) || '.' || quote_ident(oa.attname)
              FROM pg_depend od
              JOIN pg_class oc ON oc.oid = od.refobjid
              JOIN pg_namespace on_ ON on_.oid = oc.relnamespace
              JOIN pg_attribute oa ON oa.attrelid = od.refobjid AND oa.attnum = od.refobjsubid
             WHERE od.classid = 'pg_class'::regclass AND od.objid = c.oid AND od.refobjsubid > 0
               AND od.deptype IN ('a', 'i') LIMIT 1) AS owned_by,
           EXISTS (SELECT 1 FROM pg_depend od WHERE od.classid = 'pg_class'::regclass AND od.objid = c.oid
                      AND od.deptype = 'i') AS identity,
           d.description, pg_get_userbyid(c.relowner) AS owner, c.relacl::text[] AS acl
      FROM pg_sequence s
      JOIN pg_class c ON c.oid = s.seqrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
     WHERE ${userNamespace('n')} AND ${notExtensionMember('pg_class', 'c.oid')}`,
  row: z.object({
    qname: text,
    nspname: text,
    type: text,
    start: text,
    increment: text,
    min: text,
    max: text,
    cache: text,
    seqcycle: z.boolean(),
    owned_by: nullableText,
    identity: z.boolean(),
    description: nullableText,
    owner: nullableText,
    acl: textArray,
  }),
  toObject: (r, ctx) => ({
    kind: 'sequence',
    name: r.qname,
    object: {
      schema: r.nspname,
      type: r.type,
      start: r.start,
      increment: r.increment,
      min: r.min,
      max: r.max,
      cache: r.cache,
      cycle: r.seqcycle,
      ownedBy: r.owned_by,
      identity: r.identity,
      comment: r.description,
      ...ownership(ctx, r),
    },
  }),
});
