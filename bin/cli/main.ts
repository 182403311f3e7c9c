import { writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { BundleRef } from '../../lambdas/migrate/bundle';
import type { BackupSoundness } from '../../lambdas/backup/verify';
import { ConfigurationError, InputValidationError } from '../../lambdas/shared/errors';
import { parseExecutionInput, type ExecutionInput } from '../../lambdas/shared/input';
import { silentLogger } from '../../lambdas/shared/logger';
import { listBackupEntries } from '../../lambdas/shared/manifest';
import { createS3Client } from '../../lambdas/shared/s3';
import type { StepResults } from '../../lambdas/shared/step';
import { PGSHIFT_VERSION } from '../../lambdas/shared/pgshift-version';
import { parseWorkflowState, resultsOfState } from '../../lambdas/shared/step-parse';
import { executionInputFrom, parseCommandLine, USAGE, type ParsedCommand } from './args';
import { dryRunHuman, dryRunSqlOf, fetchDryRun, planMarkdown, type DryRunDocument } from './dry-run';
import { assertBucketReachable, localEnvironment, localRunFrom, type LocalRun } from './local-env';
import {
  deploymentRunOptions,
  localStackContext,
  startLocalDeployment,
  type LocalDeploymentOptions,
} from './local-deployment';
import { runLocalWorkflow, type LocalRunResult } from './local-runner';
import { errorLine, exitCodeFor, processIo, EXIT_CODES, type Io } from './output';
// './remote' (the AWS SDK's Step Functions and CloudFormation clients) and './offline' (the SQL parser's
// WebAssembly) are loaded on use: `pgshift local` needs neither (docs/performance.md, startup).
import type { ExecutionStatus } from './remote';
import { humanSummary, progressPrinter, runDocument, withWholeResults } from './render';
import { synthesizeAssembly } from './synth';
import { formatBytes } from '../../lambdas/shared/format';

type LocalDeploymentMemory = Pick<
  LocalDeploymentOptions,
  'oneFunctionAtATime' | 'warmAhead' | 'functionNodeArgs' | 'functionIsolation'
>;

/**
 * A one-off run keeps one function environment at a time, each in a worker thread of this process, with a
 * small young generation (V8 otherwise lets every isolate grow to ~50 MB of young objects and dead pipe
 * buffers before it collects): what keeps `pgshift local backup` small (docs/performance.md). A function whose
 * environment a thread cannot honour (function-host.ts threadRefusal) still gets a process of its own.
 * While a small (zip) function runs, the next state's function starts beside it (warmAhead), so its cold start
 * no longer adds to the run; nothing starts beside the backup's streaming, which holds the peak.
 * PGSHIFT_LOCAL_WARM_AHEAD=0 starts each function only when its state runs;
 * PGSHIFT_FUNCTION_ISOLATION=process runs each in a child process instead (about 50 MB more);
 * PGSHIFT_LOCAL_WARM_FUNCTIONS=1 keeps every function warm.
 */
function localRunMemory(env: NodeJS.ProcessEnv): LocalDeploymentMemory {
  const functionIsolation = env.PGSHIFT_FUNCTION_ISOLATION === 'process' ? 'process' : 'thread';
  const warmAhead = env.PGSHIFT_LOCAL_WARM_AHEAD !== '0';
  if (env.PGSHIFT_LOCAL_WARM_FUNCTIONS === '1') return { functionIsolation, warmAhead };
  return {
    oneFunctionAtATime: true,
    warmAhead,
    functionNodeArgs: ['--max-semi-space-size=2'],
    functionIsolation,
  };
}

/** Runs one execution of the synthesized state machine locally; progress on stderr unless --json. */
async function executeLocal(
  cmd: ParsedCommand,
  input: ExecutionInput,
  io: Io,
): Promise<{ run: LocalRunResult; local: LocalRun }> {
  const local = localRunFrom(cmd.flags);
  await assertBucketReachable(local.substitutions);
  const progress = (cmd.flags.json !== true && cmd.flags['sql-only'] !== true) || io.progress === true;
  const assembly = synthesizeAssembly(
    localStackContext({ sslMode: local.database.sslMode, ...local.workflow }),
  );
  if (progress && assembly.synthesized) io.err('pgshift: synthesized the stack (cached for the next run)');
  const debug = Boolean(process.env.PGSHIFT_DEBUG);
  const deployment = await startLocalDeployment({
    assembly,
    substitutions: local.substitutions,
    // Bytes dumped, migration N of M: drawn on stderr (never on stdout, which --json owns).
    onProgress: progress ? (p) => io.err(`      ${p.message}`) : undefined,
    onLog: debug ? (source, line) => io.err(`[${source}] ${line}`) : undefined,
    ...localRunMemory(process.env),
    codeCache: true,
    // Nothing here reads the gateway's recorded calls (the tests do, for the IAM simulation).
    s3Path: 'direct',
  });
  if (progress) io.err(`pgshift local ${input.action} on ${local.databaseName}`);
  try {
    const finished = await runLocalWorkflow({
      ...deploymentRunOptions(deployment),
      input,
      onEvent: progress ? progressPrinter(io) : undefined,
      // The cached assembly's folder: its definition is validated once, not on every run.
      validatedDefinitionsDir: assembly.dir,
    });
    // Outputs spilled to S3 (the state's byte budget) are read back whole for the summary and --json.
    const store = {
      s3: createS3Client({ endpoint: local.substitutions.storeEndpoint }),
      bucket: local.substitutions.bucket,
    };
    const { run, note } = await withWholeResults(finished, store).finally(() => store.s3.destroy());
    if (note) io.err(`pgshift: ${note}`);
    return { run, local };
  } finally {
    await deployment.stop();
  }
}

/** The dry run's SQL the run wrote to S3 (checked against its sha256), when it was a dry run that got that far. */
async function dryRunOf(
  input: ExecutionInput,
  results: StepResults | undefined,
  s3Options: { endpoint?: string; region?: string },
  bucket: string | undefined,
): Promise<DryRunDocument | undefined> {
  const found = input.dryRun ? dryRunSqlOf(results) : undefined;
  if (!found) return undefined;
  const s3 = createS3Client(s3Options);
  try {
    return await fetchDryRun(s3, bucket, found);
  } finally {
    s3.destroy();
  }
}

/**
 * Prints a run's outcome: `--sql-only` the dry run's SQL alone (byte for byte the S3 object), `--json` one
 * document (with the SQL), else the summary and the SQL with findings and locks beside each statement.
 */
function printOutcome(
  cmd: ParsedCommand,
  io: Io,
  outcome: { document: Record<string, unknown>; human: string; error?: { name?: string; message?: string } },
  dry: DryRunDocument | undefined,
): void {
  if (cmd.flags['sql-only']) {
    // stdout stays the SQL alone (for a pipe); why the run failed goes to stderr.
    if (outcome.error?.name) io.err(errorLine(runError(outcome.error)));
    if (dry) io.out(dry.sql);
    else io.err('pgshift: no dry-run SQL was written: the run stopped before the plan step wrote it');
    return;
  }
  if (cmd.flags.json) {
    const sql = dry
      ? { dryRun: { sql: dry.sql, sqlObject: dry.sqlObject, scripts: dry.scripts ?? null } }
      : {};
    io.out(JSON.stringify({ ...outcome.document, ...sql }, null, 2));
    return;
  }
  io.out(dry ? `${outcome.human}\n\n${dryRunHuman(dry)}` : outcome.human);
}

/** A run's error (name and message from the step) as an Error, for `errorLine`. */
function runError(error: { name?: string; message?: string }): Error {
  const err = new Error(error.message ?? error.name ?? 'unknown error');
  err.name = error.name ?? 'Error';
  return err;
}

async function runLocal(cmd: ParsedCommand, io: Io): Promise<number> {
  const input = executionInputFrom(cmd);
  const { run, local } = await executeLocal(cmd, input, io);
  const dry = await dryRunOf(
    input,
    run.state?.results,
    { endpoint: local.substitutions.storeEndpoint },
    local.substitutions.bucket,
  );
  printOutcome(
    cmd,
    io,
    {
      document: runDocument(input.action, local.databaseName, run),
      human: humanSummary(input.action, run),
      error: run.error,
    },
    dry,
  );
  return outcomeCode(io, run.ok, run.error, dry);
}

/**
 * The exit code of a run. A dry run the workflow completed still exits 3 when apply would refuse (error-level
 * findings, no allowUnsafe): CI's plan job fails on what the apply job would be refused for.
 */
function outcomeCode(
  io: Io,
  ok: boolean,
  error: { name?: string } | undefined,
  dry: DryRunDocument | undefined,
): number {
  if (!ok) return exitCodeFor(error);
  if (dry?.blocking) {
    const errors = dry.lint?.errors ?? dry.findings.filter((f) => f.severity === 'error').length;
    io.err(
      `pgshift: UnsafeMigrationError: apply would refuse: ${errors} error-level lint finding(s) (see the SQL ` +
        'and findings); fix them, waive one with "-- pgshift:allow <rule> <reason>", or run with --allow-unsafe',
    );
    return EXIT_CODES.refused;
  }
  return EXIT_CODES.ok;
}

/** Checks a folder like the migrate step and uploads it to the stack's bucket as `bundles/<sha256>.json`. */
async function bundleFolder(cmd: ParsedCommand, dir: string): Promise<BundleRef & { count: number }> {
  const flag = (name: string): string | undefined => stringFlag(cmd, name);
  const bucket = flag('bucket') ?? process.env.PGSHIFT_BUCKET;
  const kmsKeyId = flag('kms-key-id') ?? process.env.PGSHIFT_KMS_KEY_ID;
  if (!bucket || !kmsKeyId) {
    throw new ConfigurationError(
      'a bundle is uploaded to the stack bucket with its key: pass --bucket and --kms-key-id (the stack ' +
        'outputs BucketName and BucketKeyArn), or set PGSHIFT_BUCKET and PGSHIFT_KMS_KEY_ID',
    );
  }
  const { packMigrations, uploadBundle } = loadBundle();
  const packed = await packMigrations(path.resolve(dir));
  const store = {
    s3: createS3Client({ endpoint: flag('s3-endpoint'), region: flag('region') }),
    bucket,
    kmsKeyId,
  };
  try {
    return { ...(await uploadBundle(store, packed)), count: packed.migrations.length };
  } finally {
    store.s3.destroy();
  }
}

async function runBundle(cmd: ParsedCommand, io: Io): Promise<number> {
  const [dir, ...extra] = cmd.positionals;
  if (!dir || extra.length > 0)
    throw new InputValidationError(['usage: pgshift bundle <dir> --bucket B --kms-key-id K']);
  const ref = await bundleFolder(cmd, dir);
  io.out(
    cmd.flags.json
      ? JSON.stringify({ action: 'bundle', ok: true, ...ref }, null, 2)
      : `${ref.bundle}\nsha256 ${ref.sha256} (${ref.count} migrations)`,
  );
  return EXIT_CODES.ok;
}

function stringFlag(cmd: ParsedCommand, name: string): string | undefined {
  const value = cmd.flags[name];
  return typeof value === 'string' ? value : undefined;
}

// Modules loaded on use, so a command that does not need them does not pay for loading them (a dynamic import()
// would bypass tsx's CommonJS hook, which resolves .ts files). require() is `any`; the return type is the module's.
/* eslint-disable @typescript-eslint/no-unsafe-return -- lazy require(), typed by its declared return type */
const loadRemote = (): typeof import('./remote') => require('./remote');
const loadOffline = (): typeof import('./offline') => require('./offline');
const loadVerify = (): typeof import('../../lambdas/backup/verify') => require('../../lambdas/backup/verify');
const loadBundle = (): typeof import('../../lambdas/migrate/bundle') =>
  require('../../lambdas/migrate/bundle');
/* eslint-enable @typescript-eslint/no-unsafe-return */

/** Starts the deployed state machine (uploading --migrations DIR first) and, with `wait`, follows it. */
async function executeRemote(
  cmd: ParsedCommand,
  startInput: ExecutionInput,
  io: Io,
  wait: boolean,
): Promise<{ input: ExecutionInput; executionArn: string; status?: ExecutionStatus; results?: StepResults }> {
  let input = startInput;
  const quiet = cmd.flags.json === true || cmd.flags['sql-only'] === true;
  if (typeof cmd.flags.migrations === 'string') {
    const { bundle, sha256, count } = await bundleFolder(cmd, cmd.flags.migrations);
    if (!quiet) io.err(`bundled ${count} migrations as ${bundle}`);
    input = parseExecutionInput({ ...input, migrations: { bundle, sha256 } });
  }
  const { findStateMachineArn, lastStateResults, remoteClients, startExecution, waitForExecution } =
    loadRemote();
  const clients = remoteClients(stringFlag(cmd, 'region'));
  const arn = await findStateMachineArn(clients, {
    stateMachineArn: stringFlag(cmd, 'state-machine-arn'),
    stackName: stringFlag(cmd, 'stack-name'),
  });
  const executionArn = await startExecution(clients, arn, input);
  if (!wait) return { input, executionArn };
  if (!quiet) io.err(`started ${executionArn}`);
  const status = await waitForExecution(clients, executionArn, (state, i) => {
    if (!quiet) io.err(`  ${String(i + 1).padStart(2)}. ${state}`);
  });
  // A failed execution has no output: the results so far are in its last state's output (history).
  const results =
    status.output === undefined
      ? await lastStateResults(clients, executionArn)
      : resultsOfState(status.output);
  return { input, executionArn, status, results };
}

async function runStart(cmd: ParsedCommand, io: Io): Promise<number> {
  const wait = cmd.flags.wait === true;
  if (cmd.flags['sql-only'] && !wait)
    throw new InputValidationError(['--sql-only prints the SQL once the dry run ends: add --wait']);
  const { input, executionArn, status, results } = await executeRemote(
    cmd,
    executionInputFrom(cmd),
    io,
    wait,
  );
  const json = cmd.flags.json === true;
  if (!status) {
    io.out(
      json
        ? JSON.stringify({ action: input.action, ok: true, database: input.database, executionArn })
        : executionArn,
    );
    return EXIT_CODES.ok;
  }
  const ok = status.status === 'SUCCEEDED';
  const output = status.output === undefined ? undefined : parseWorkflowState(status.output);
  const reportUrl = output?.results.report?.htmlUrl;
  const database = output?.input.database;
  const dry = await dryRunOf(
    input,
    results,
    { endpoint: stringFlag(cmd, 's3-endpoint'), region: stringFlag(cmd, 'region') },
    stringFlag(cmd, 'bucket'),
  );
  printOutcome(
    cmd,
    io,
    {
      document: { action: input.action, ok, database: database ?? input.database, ...status },
      human: `${status.status}${status.error ? `: ${status.error}` : ''}${reportUrl ? `\nreport: ${reportUrl}` : ''}`,
      error: status.error ? { name: status.error, message: status.cause } : undefined,
    },
    dry,
  );
  return outcomeCode(io, ok, { name: status.error }, dry);
}

/**
 * `pgshift plan` (the deployed state machine) / `pgshift local plan`: a migrate dry run, written as Markdown for
 * a pull request (`--output FILE`, else stdout). Exits like the dry run: 3 when apply would refuse.
 */
async function runPlan(cmd: ParsedCommand, io: Io): Promise<number> {
  const input = executionInputFrom(cmd);
  let ok: boolean;
  let error: { name?: string; message?: string } | undefined;
  let dry: DryRunDocument | undefined;
  if (cmd.mode === 'local') {
    const { run, local } = await executeLocal(cmd, input, io);
    ok = run.ok;
    error = run.error;
    dry = await dryRunOf(
      input,
      run.state?.results,
      { endpoint: local.substitutions.storeEndpoint },
      local.substitutions.bucket,
    );
  } else {
    const { status, results } = await executeRemote(cmd, input, io, true);
    ok = status?.status === 'SUCCEEDED';
    error = { name: status?.error, message: status?.cause };
    dry = await dryRunOf(
      input,
      results,
      { endpoint: stringFlag(cmd, 's3-endpoint'), region: stringFlag(cmd, 'region') },
      stringFlag(cmd, 'bucket'),
    );
  }
  if (!dry) {
    io.err(
      errorLine(
        runError({ name: error?.name, message: `no plan was written: ${error?.message ?? 'unknown error'}` }),
      ),
    );
    return ok ? EXIT_CODES.failed : exitCodeFor(error);
  }
  const markdown = planMarkdown(dry, { docsUrl: stringFlag(cmd, 'docs-url') });
  const output = stringFlag(cmd, 'output');
  if (output) {
    await writeFile(output, markdown, 'utf8');
    if (cmd.flags.json !== true) io.err(`plan written to ${output}`);
  }
  if (cmd.flags.json) {
    // One document on stdout: the Markdown goes in it when no file was asked for.
    const where = output ? { output } : { markdown };
    io.out(
      JSON.stringify(
        { action: 'plan', ok, ...(error?.name ? { error } : {}), ...where, dryRun: dry },
        null,
        2,
      ),
    );
  } else if (!output) io.out(markdown);
  return outcomeCode(io, ok, error, dry);
}

async function runStatus(cmd: ParsedCommand, io: Io): Promise<number> {
  const [executionArn, ...extra] = cmd.positionals;
  if (!executionArn || extra.length > 0)
    throw new InputValidationError(['usage: pgshift status <execution-arn>']);
  const { describeExecution, remoteClients } = loadRemote();
  const status = await describeExecution(
    remoteClients(typeof cmd.flags.region === 'string' ? cmd.flags.region : undefined),
    executionArn,
  );
  if (cmd.flags.json) io.out(JSON.stringify(status, null, 2));
  else
    io.out(
      `${status.status}${status.error ? ` (${status.error})` : ''}\nstates: ${status.states.join(' → ')}`,
    );
  return EXIT_CODES.ok;
}

/**
 * `pgshift backups`: every manifest of the database, newest first, unsound ones flagged (a manifest that does
 * not describe its own object is no backup). `--verify` also streams each dump and checks its size, sha256 and
 * `pg_restore --list`; exit 1 when any backup is not sound.
 */
async function runBackups(cmd: ParsedCommand, io: Io): Promise<number> {
  const vars = localEnvironment(cmd.flags);
  const store = { s3: createS3Client({ endpoint: vars.AWS_ENDPOINT_URL_S3 }), bucket: vars.PGSHIFT_BUCKET };
  const database = vars.PGSHIFT_DATABASE;
  const backups: BackupSoundness[] = cmd.flags.verify
    ? await loadVerify().verifyBackups({ store, log: silentLogger }, database, vars.PGSHIFT_BACKUP_PREFIX)
    : (await listBackupEntries(store, database, vars.PGSHIFT_BACKUP_PREFIX)).map((e) => ({
        key: e.key,
        sound: e.manifest !== undefined,
        problem: e.problem,
        finishedAt: e.manifest?.finishedAt,
        sizeBytes: e.manifest?.sizeBytes,
        sha256: e.manifest?.sha256,
      }));
  const ok = backups.every((b) => b.sound);
  if (cmd.flags.json) {
    io.out(
      JSON.stringify(
        { action: 'backups', ok, database, verified: cmd.flags.verify === true, backups },
        null,
        2,
      ),
    );
  } else if (backups.length === 0) {
    io.out(`no complete backups of ${database}`);
  } else {
    for (const b of backups) {
      io.out(
        b.sound
          ? `${cmd.flags.verify ? '✓ ' : ''}${b.finishedAt}  ${formatBytes(b.sizeBytes ?? 0, { wholeBytes: true }).padStart(10)}  ${b.key}`
          : `✗ NOT SOUND  ${b.key}: ${b.problem}`,
      );
    }
  }
  return ok ? EXIT_CODES.ok : EXIT_CODES.failed;
}

/** Runs one command line; returns the exit code. Every error becomes one line on stderr, never a stack trace. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  try {
    const cmd = parseCommandLine(argv);
    if (cmd.flags.help) {
      io.out(USAGE);
      return EXIT_CODES.ok;
    }
    switch (cmd.command) {
      case 'help':
        io.out(USAGE);
        return EXIT_CODES.ok;
      case 'version':
        io.out(PGSHIFT_VERSION);
        return EXIT_CODES.ok;
      case 'local':
        return await runLocal(cmd, io);
      case 'start':
        return await runStart(cmd, io);
      case 'status':
        return await runStatus(cmd, io);
      case 'backups':
        return await runBackups(cmd, io);
      // Loaded on use, as the other commands' modules: `pgshift local` then loads no SQL parser (WASM) and
      // no remote clients (docs/performance.md, startup).
      case 'lint':
        return await loadOffline().runLintCommand(cmd, io);
      case 'diff':
        return await loadOffline().runDiffCommand(cmd, io);
      case 'bundle':
        return await runBundle(cmd, io);
      case 'plan':
        return await runPlan(cmd, io);
    }
  } catch (err) {
    io.err(errorLine(err));
    if (process.env.PGSHIFT_DEBUG) io.err(err instanceof Error ? String(err.stack) : String(err));
    return exitCodeFor(err);
  }
}
