import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { taskRootPath } from '../../shared/env';
import { ConfigurationError } from '../../shared/errors';
import { scanComments } from '../statements';
import type { MigrationScript } from '../types';

/** One finding as Squawk's `--reporter json` prints it (lines and columns 0-based). */
const squawkViolation = z.object({
  file: z.string(),
  line: z.number(),
  column: z.number(),
  line_end: z.number().optional(),
  column_end: z.number().optional(),
  level: z.string(),
  message: z.string(),
  help: z.string().nullable().optional(),
  rule_name: z.string(),
});
export type SquawkViolation = z.infer<typeof squawkViolation>;
const squawkReport = z.array(squawkViolation);

/**
 * Squawk rules pgshift turns off: pgshift itself sets lock_timeout and statement_timeout before every
 * migration (see the dry-run SQL), which Squawk cannot see in the file.
 */
export const SQUAWK_EXCLUDED_RULES = [
  'require-lock-timeout',
  'require-statement-timeout',
  'require-timeout-settings',
];

/**
 * Where Squawk's binary is: `PGSHIFT_SQUAWK_BIN` (a relative value is read from the task root: the migrate
 * function ships it at bin/squawk), else the one inside the `@squawk-cli/linux-x64` package (installed as an
 * optional dependency on linux-x64).
 */
export function squawkBinary(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PGSHIFT_SQUAWK_BIN) return taskRootPath(env.PGSHIFT_SQUAWK_BIN, env);
  try {
    const pkg = require.resolve('@squawk-cli/linux-x64/package.json');
    const bin = join(dirname(pkg), 'bin', 'squawk');
    if (existsSync(bin)) return bin;
  } catch {
    // fall through to the error below
  }
  throw new ConfigurationError(
    'Squawk is not installed: npm install @squawk-cli/linux-x64 (Linux x86_64), or set PGSHIFT_SQUAWK_BIN to a squawk binary',
  );
}

/**
 * The script as Squawk sees it: each `-- pgshift:allow <rule> <reason>` becomes `-- squawk-ignore <rule>` on the
 * same line, and lines are padded so Squawk's line numbers are the file's (a dbmate section starts mid-file).
 */
export function squawkText(script: MigrationScript): string {
  const bytes = Buffer.from(script.sql, 'utf8');
  const pieces: Buffer[] = [];
  let at = 0;
  for (const c of scanComments(script.sql)) {
    const body = c.text.startsWith('--') ? c.text.slice(2).trim() : '';
    if (!body.startsWith('pgshift:allow')) continue;
    const rule = body.split(/\s+/)[1] ?? '';
    pieces.push(bytes.subarray(at, c.start), Buffer.from(`-- squawk-ignore ${rule}`, 'utf8'));
    at = c.end;
  }
  pieces.push(bytes.subarray(at));
  return '\n'.repeat(script.firstLine - 1) + Buffer.concat(pieces).toString('utf8');
}

export interface SquawkRun {
  /** Key of each script; comes back in each finding's `key`. */
  key: string;
  script: MigrationScript;
  inTransaction: boolean;
}

/**
 * Runs Squawk once per transaction mode over every script (one process per mode, not per file), with the
 * server's version when known. Returns the violations keyed by script.
 */
export async function runSquawk(
  runs: SquawkRun[],
  options: { pgVersion?: string; binary?: string } = {},
): Promise<Map<string, SquawkViolation[]>> {
  const out = new Map<string, SquawkViolation[]>();
  if (runs.length === 0) return out;
  const bin = options.binary ?? squawkBinary();
  const dir = await mkdtemp(join(tmpdir(), 'pgshift-squawk-'));
  try {
    for (const inTransaction of [true, false]) {
      const group = runs.filter((r) => r.inTransaction === inTransaction);
      if (group.length === 0) continue;
      const paths = new Map<string, string>();
      for (const [i, run] of group.entries()) {
        const path = join(dir, `${inTransaction ? 'tx' : 'notx'}_${i}.sql`);
        paths.set(path, run.key);
        await writeFile(path, squawkText(run.script));
      }
      const args = [
        '--reporter',
        'json',
        '--no-error-on-unmatched-pattern',
        `--exclude=${SQUAWK_EXCLUDED_RULES.join(',')}`,
        ...(options.pgVersion ? ['--pg-version', options.pgVersion] : []),
        inTransaction ? '--assume-in-transaction' : '--no-assume-in-transaction',
        ...paths.keys(),
      ];
      const stdout = await execSquawk(bin, args);
      let violations: SquawkViolation[];
      try {
        violations = stdout.trim() === '' ? [] : squawkReport.parse(JSON.parse(stdout));
      } catch (err) {
        throw new ConfigurationError(`Squawk printed something other than JSON: ${stdout.slice(0, 300)}`, {
          cause: err,
        });
      }
      for (const v of violations) {
        const key = paths.get(v.file) ?? paths.get(join(dir, v.file));
        if (!key) continue;
        out.set(key, [...(out.get(key) ?? []), v]);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return out;
}

/** Squawk exits 1 when it found something; only other codes (or no JSON) are failures. */
function execSquawk(bin: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err?.code;
      if (err && code === 'ENOENT') {
        reject(
          new ConfigurationError(`Squawk binary not found at ${bin} (set PGSHIFT_SQUAWK_BIN)`, {
            cause: err,
          }),
        );
      } else if (err && code !== 1) {
        reject(
          new ConfigurationError(`Squawk failed (${String(code)}): ${stderr.slice(0, 500)}`, { cause: err }),
        );
      } else {
        resolve(stdout);
      }
    });
  });
}
