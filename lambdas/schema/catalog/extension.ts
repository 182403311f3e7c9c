import { z } from 'zod';
import { defineReader, text } from './reader';

export const extensionReader = defineReader({
  kind: 'extension',
  sql: () => `
    SELECT e.extname, quote_ident(e.extname) AS qname, e.extversion, n.nspname
      FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
     WHERE $1::text[] IS NOT NULL`,
  row: z.object({ qname: text, extversion: text, nspname: text }),
  toObject: (r) => ({
    kind: 'extension',
    name: r.qname,
    object: { schema: r.nspname, version: r.extversion },
  }),
});
