import { createTwoFilesPatch } from 'diff';

/**
 * The unified diff of two `pg_dump --schema-only` texts (jsdiff), the seed's "compare the dumps" artefact.
 * Empty when the texts are equal. pg_dump's version banner lines are compared like any other line.
 */
export function unifiedSchemaDiff(
  sqlBefore: string,
  sqlAfter: string,
  labels: { before?: string; after?: string } = {},
): string {
  if (sqlBefore === sqlAfter) return '';
  return createTwoFilesPatch(
    labels.before ?? 'before.sql',
    labels.after ?? 'after.sql',
    sqlBefore,
    sqlAfter,
    '',
    '',
    {
      context: 3,
    },
  );
}
