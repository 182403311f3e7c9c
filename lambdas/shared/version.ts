/** pgshift's own version, written into every manifest and report. */
export const PGSHIFT_VERSION: string = (require('../../package.json') as { version: string }).version;
