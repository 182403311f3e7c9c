import { version } from '../../package.json';

/** pgshift's own version, written into every manifest and report and printed by `pgshift --version`. */
export const PGSHIFT_VERSION: string = version;
