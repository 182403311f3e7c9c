/**
 * From this size a table is "large": the lint rules (table + TOAST, PGSHIFT_LINT_LARGE_TABLE_BYTES) and the schema
 * diff (table + indexes + TOAST, PGSHIFT_LARGE_TABLE_BYTES) measure it differently but start from one default, so
 * lint and diff call the same tables large until an operator sets one of them.
 */
export const DEFAULT_LARGE_TABLE_BYTES = 100 * 1024 * 1024;
