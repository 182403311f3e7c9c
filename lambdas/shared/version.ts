import { version } from '../../package.json';

/** pgshift's own version, written into every manifest and report. */
export const PGSHIFT_VERSION: string = version;
