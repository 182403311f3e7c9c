import { parseArgs, type ParseArgsConfig } from 'node:util';
import { InputValidationError, errorMessage } from '../../lambdas/shared/errors';
import { ACTIONS, parseExecutionInput, type Action, type ExecutionInput } from '../../lambdas/shared/input';

/** Flags every command understands. */
const COMMON = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Where a local run finds its database, bucket, migrations and alert topic. */
const LOCAL_TARGET = {
  'database-url': { type: 'string' },
  bucket: { type: 'string' },
  's3-endpoint': { type: 'string' },
  'kms-key-id': { type: 'string' },
  migrations: { type: 'string' },
  'sns-endpoint': { type: 'string' },
  'topic-arn': { type: 'string' },
  database: { type: 'string' },
  'lock-timeout': { type: 'string' },
  'statement-timeout': { type: 'string' },
  'output-prefix': { type: 'string' },
} as const;

/** Flags that become execution input fields (the same for `local` and `start`). */
const ACTION_FLAGS = {
  'dry-run': { type: 'boolean' },
  'allow-unsafe': { type: 'boolean' },
  steps: { type: 'string' },
  to: { type: 'string' },
  confirm: { type: 'string' },
  'allow-other-database': { type: 'boolean' },
  verify: { type: 'boolean' },
  runner: { type: 'string' },
  'restore-jobs': { type: 'string' },
  'skip-preflight': { type: 'string' },
  'skip-reason': { type: 'string' },
  'terminate-idle-in-transaction': { type: 'boolean' },
  'migrations-bundle': { type: 'string' },
  'sql-only': { type: 'boolean' },
} as const;

/** `pgshift plan`: where its Markdown goes and how rule links are written. */
const PLAN_FLAGS = {
  output: { type: 'string' },
  'docs-url': { type: 'string' },
} as const;

/** Where `pgshift bundle` and `pgshift start --migrations` upload: the stack's bucket and key (outputs). */
const BUNDLE_TARGET = {
  bucket: { type: 'string' },
  'kms-key-id': { type: 'string' },
  's3-endpoint': { type: 'string' },
  region: { type: 'string' },
} as const;

/** The execution input fields a plan (a migrate dry run) takes. */
const PLAN_INPUT = {
  'migrations-bundle': { type: 'string' },
  'allow-unsafe': { type: 'boolean' },
} as const;

const REMOTE = {
  'state-machine-arn': { type: 'string' },
  'stack-name': { type: 'string' },
  region: { type: 'string' },
  wait: { type: 'boolean' },
} as const;

export type Flags = Record<string, string | boolean | undefined>;

export interface ParsedCommand {
  command:
    'local' | 'start' | 'status' | 'backups' | 'lint' | 'diff' | 'bundle' | 'plan' | 'help' | 'version';
  action?: Action;
  /** `plan`: run on the deployed state machine (`pgshift plan`) or locally (`pgshift local plan`). */
  mode?: 'local' | 'remote';
  positionals: string[];
  flags: Flags;
}

/** parseArgs' values when no option repeats (no `multiple: true`): strings and booleans only. */
function isFlags(values: Record<string, unknown>): values is Flags {
  return Object.values(values).every(
    (v) => v === undefined || typeof v === 'string' || typeof v === 'boolean',
  );
}

function parse(argv: string[], options: ParseArgsConfig['options']): { positionals: string[]; flags: Flags } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    if (!isFlags(values)) throw new Error('an option was declared with multiple: true');
    return { positionals, flags: values };
  } catch (err) {
    // node's messages are already one clear line ("Unknown option '--dryrun'...").
    throw new InputValidationError([errorMessage(err).replace(/\. To specify a positional.*$/, '')]);
  }
}

function isAction(value: string): value is Action {
  return ACTIONS.some((action) => action === value);
}

/** `pgshift local|start <action> [args] [flags]` (`local lint`, `local diff` and `local plan` included). */
function parseActionCommand(command: 'local' | 'start', rest: string[]): ParsedCommand {
  const [action, ...args] = rest;
  if (action === undefined || action.startsWith('-')) {
    throw new InputValidationError([`"pgshift ${command}" needs an action: ${ACTIONS.join(', ')}`]);
  }
  if (command === 'local' && (action === 'lint' || action === 'diff')) {
    return parseCommandLine([action, ...args]);
  }
  if (command === 'local' && action === 'plan') {
    const { positionals, flags } = parse(args, {
      ...COMMON,
      ...LOCAL_TARGET,
      ...PLAN_FLAGS,
      ...PLAN_INPUT,
    });
    return { command: 'plan', mode: 'local', action: 'migrate', positionals, flags };
  }
  if (!isAction(action)) {
    throw new InputValidationError([`unknown action "${action}" (expected one of ${ACTIONS.join(', ')})`]);
  }
  const options =
    command === 'local'
      ? { ...COMMON, ...LOCAL_TARGET, ...ACTION_FLAGS }
      : {
          ...COMMON,
          ...REMOTE,
          ...BUNDLE_TARGET,
          ...ACTION_FLAGS,
          database: { type: 'string' as const },
          migrations: { type: 'string' as const },
        };
  const { positionals, flags } = parse(args, options);
  return { command, action, positionals, flags };
}

/** Splits `pgshift <command> [action] [args] [flags]`; every mistake is an InputValidationError (exit 2). */
export function parseCommandLine(argv: string[]): ParsedCommand {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { command: 'help', positionals: rest, flags: {} };
    case '--version':
    case 'version':
      return { command: 'version', positionals: [], flags: {} };
    case 'local':
    case 'start':
      return parseActionCommand(command, rest);
    case 'status':
      return { command, ...parse(rest, { ...COMMON, region: { type: 'string' } }) };
    case 'backups':
      return {
        command,
        ...parse(rest, {
          ...COMMON,
          ...LOCAL_TARGET,
          region: { type: 'string' },
          verify: { type: 'boolean' },
        }),
      };
    case 'lint':
      return { command, ...parse(rest, { ...COMMON, 'pg-version': { type: 'string' } }) };
    case 'diff':
      return { command, ...parse(rest, { ...COMMON }) };
    case 'bundle':
      return { command, ...parse(rest, { ...COMMON, ...BUNDLE_TARGET }) };
    case 'plan':
      return {
        command,
        mode: 'remote',
        action: 'migrate',
        ...parse(rest, {
          ...COMMON,
          ...REMOTE,
          ...BUNDLE_TARGET,
          ...PLAN_FLAGS,
          ...PLAN_INPUT,
          database: { type: 'string' },
          migrations: { type: 'string' },
        }),
      };
    default:
      throw new InputValidationError([`unknown command "${command}" (try "pgshift help")`]);
  }
}

function intFlag(value: string | boolean | undefined, name: string, problems: string[]): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value)) {
    problems.push(`--${name} must be a whole number`);
    return undefined;
  }
  return Number(value);
}

/**
 * Turns an action's positionals and flags into the same execution input the console takes, validated by the
 * same schema: `restore <key|latest>`, `baseline <version>`, `downgrade --steps N | --to V`.
 */
export function executionInputFrom(cmd: ParsedCommand): ExecutionInput {
  const f = cmd.flags;
  const problems: string[] = [];
  const raw: Record<string, unknown> = { action: cmd.action };
  const expectPositionals = cmd.action === 'restore' || cmd.action === 'baseline' ? 1 : 0;
  if (cmd.positionals.length > expectPositionals) {
    problems.push(
      `unexpected argument${cmd.positionals.length - expectPositionals > 1 ? 's' : ''} ${cmd.positionals
        .slice(expectPositionals)
        .map((p) => `"${p}"`)
        .join(' ')}`,
    );
  }
  if (cmd.action === 'restore') {
    if (cmd.positionals[0] === undefined) problems.push('restore needs a backup: an S3 key or "latest"');
    raw.backup = cmd.positionals[0];
  }
  if (cmd.action === 'baseline') {
    if (cmd.positionals[0] === undefined) problems.push('baseline needs the version the database is at');
    raw.toVersion = cmd.positionals[0];
  }
  if (f['dry-run']) raw.dryRun = true;
  if (f['allow-unsafe']) raw.allowUnsafe = true;
  raw.steps = intFlag(f.steps, 'steps', problems);
  if (typeof f.to === 'string') raw.toVersion = f.to;
  if (typeof f.confirm === 'string') raw.confirm = f.confirm;
  if (f['allow-other-database']) raw.allowOtherDatabase = true;
  if (f.verify) raw.verifyBackup = true;
  if (typeof f.runner === 'string') raw.runner = f.runner;
  raw.restoreJobs = intFlag(f['restore-jobs'], 'restore-jobs', problems);
  if (typeof f['skip-preflight'] === 'string')
    raw.skipPreflight = f['skip-preflight']
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (typeof f['skip-reason'] === 'string') raw.skipReason = f['skip-reason'];
  if (f['terminate-idle-in-transaction']) raw.terminateIdleInTransaction = true;
  if (typeof f.database === 'string') raw.database = f.database;
  if (typeof f['migrations-bundle'] === 'string') {
    if ((cmd.command === 'start' || cmd.mode === 'remote') && typeof f.migrations === 'string')
      problems.push(
        'give --migrations DIR (uploads a bundle) or --migrations-bundle KEY (uploaded), not both',
      );
    raw.migrations = bundleRefFrom(f['migrations-bundle']);
  }
  if (cmd.command === 'plan') raw.dryRun = true;
  if (f['sql-only'] && !raw.dryRun) problems.push("--sql-only prints a dry run's SQL: add --dry-run");
  if (f['sql-only'] && f.json) problems.push('give --sql-only or --json, not both');
  for (const k of Object.keys(raw)) if (raw[k] === undefined) delete raw[k];
  let input: ExecutionInput | undefined;
  try {
    input = parseExecutionInput(raw);
  } catch (err) {
    if (!(err instanceof InputValidationError)) throw err;
    problems.push(...err.problems.map(toFlagWording));
  }
  if (problems.length > 0 || !input) throw new InputValidationError(problems);
  return input;
}

/** `--migrations-bundle bundles/<sha256>.json` (or the bare sha256) as the input's `migrations` field. */
function bundleRefFrom(value: string): { bundle: string; sha256: string } {
  const sha = /^(?:bundles\/)?([0-9a-f]{64})(?:\.json)?$/.exec(value)?.[1];
  // An unrecognised value goes through as the key: the input schema then names what is wrong with it.
  return sha ? { bundle: `bundles/${sha}.json`, sha256: sha } : { bundle: value, sha256: '' };
}

/** Says a schema problem in the words of the CLI's flags (`toVersion` → `--to`). */
function toFlagWording(problem: string): string {
  return problem
    .replace(/^dryRun/, '--dry-run')
    .replace(/^allowUnsafe/, '--allow-unsafe')
    .replace(/^steps/, '--steps')
    .replace(/^confirm/, '--confirm')
    .replace(/^runner/, '--runner')
    .replace(/^restoreJobs/, '--restore-jobs')
    .replace(/^skipReason/, '--skip-reason')
    .replace(/^skipPreflight/, '--skip-preflight')
    .replace(/^verifyBackup/, '--verify')
    .replace(/^migrations\.(bundle|sha256)/, '--migrations-bundle');
}

export const USAGE = `pgshift: safe production PostgreSQL migrations

Usage:
  pgshift local <action> [flags]     run the workflow in-process against a database and an S3-compatible store
  pgshift start <action> [flags]     start the deployed state machine (add --wait to follow it)
  pgshift status <execution-arn>     show a deployed execution's state
  pgshift backups [--database D] [--verify]
                                     list backups (newest first), unsound manifests flagged; --verify
                                     also checks each dump's size, sha256 and pg_restore --list
  pgshift lint <dir>                 lint a migrations folder (no database needed)
  pgshift bundle <dir> --bucket B --kms-key-id K   check a migrations folder and upload it as bundles/<sha256>.json
  pgshift plan [--migrations DIR] [--output FILE] [--docs-url URL]
                                     a migrate dry run on the deployed state machine, as Markdown for a pull
                                     request (pgshift local plan: the same, run locally)
  pgshift diff <snapshotA> <snapshotB>  compare two schema snapshots (JSON files)

Actions:
  backup [--verify] [--output-prefix P]
  restore <key|latest> --confirm <database> [--allow-other-database]
          [--runner fargate --restore-jobs N]   (pg_restore --jobs N from the task's local storage)
  report
  migrate [--dry-run [--sql-only]] [--allow-unsafe] [--skip-preflight id,... --skip-reason R]
  verify
  downgrade --steps N | --to VERSION [--dry-run [--sql-only]]
  baseline <version>
  preflight [--terminate-idle-in-transaction]
  cleanup --confirm <database>

Local flags (defaults from the environment):
  --database-url URL    ($DATABASE_URL)        --bucket NAME        ($PGSHIFT_BUCKET)
  --s3-endpoint URL     ($AWS_ENDPOINT_URL_S3)  --migrations DIR     (./migrations)
  --sns-endpoint URL    ($AWS_ENDPOINT_URL_SNS) --topic-arn ARN      ($PGSHIFT_TOPIC_ARN)
  --kms-key-id ID       ($PGSHIFT_KMS_KEY_ID)   --database NAME      (logical name used in S3 keys)
  --migrations-bundle KEY  run bundles/<sha256>.json from the bucket instead of --migrations

Remote flags: --state-machine-arn ARN | --stack-name NAME (default Pgshift), --region R, --wait
  --migrations DIR (migrate, downgrade, verify, baseline, preflight): upload DIR as a bundle (--bucket,
  --kms-key-id: the stack's BucketName/BucketKeyArn outputs) and run it instead of the deployed files
Output: human-readable by default, --json for one JSON document on stdout; a dry run prints its SQL
  (findings and locks beside each statement), --sql-only prints only that SQL.
Exit codes: 0 ok, 1 failed (says what state things are in), 2 bad input or usage, 3 refused.
`;
