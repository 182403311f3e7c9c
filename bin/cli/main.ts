import * as path from 'node:path';
import type { BundleRef } from '../../lambdas/migrate/bundle';
import type { BackupSoundness } from '../../lambdas/backup/verify';
import { ConfigurationError, InputValidationError } from '../../lambdas/shared/errors';
import { parseExecutionInput } from '../../lambdas/shared/input';
import { silentLogger } from '../../lambdas/shared/logger';
import { listBackupEntries } from '../../lambdas/shared/manifest';
import { createS3Client } from '../../lambdas/shared/s3';
import { PGSHIFT_VERSION } from '../../lambdas/shared/version';
import { executionInputFrom, parseCommandLine, USAGE, type ParsedCommand } from './args';
import { assertBucketReachable, localEnvironment, localRunFrom } from './local-env';
import { deploymentRunOptions, localStackContext, startLocalDeployment } from './local-deployment';
import { runLocalWorkflow } from './local-runner';
import { errorLine, exitCodeFor, formatBytes, processIo, EXIT_CODES, type Io } from './output';
import { humanSummary, progressPrinter, runDocument } from './render';
import { synthesizeAssembly } from './synth';

/**
 * A one-off run keeps one function process at a time and a small young generation in each (V8 otherwise
 * lets every process grow to ~50 MB of young objects and dead pipe buffers before it collects): what keeps
 * `pgshift local backup` small (docs/performance.md). The env var lets the benchmark compare.
 */
const LOCAL_RUN_MEMORY =
  process.env.PGSHIFT_LOCAL_WARM_FUNCTIONS === '1'
    ? {}
    : { oneFunctionAtATime: true, functionNodeArgs: ['--max-semi-space-size=2'] };

async function runLocal(cmd: ParsedCommand, io: Io): Promise<number> {
  const input = executionInputFrom(cmd);
  const local = localRunFrom(cmd.flags);
  await assertBucketReachable(local.substitutions);
  const json = cmd.flags.json === true;
  const progress = !json || io.progress === true;
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
    ...LOCAL_RUN_MEMORY,
  });
  if (progress) io.err(`pgshift local ${input.action} on ${local.databaseName}`);
  try {
    const run = await runLocalWorkflow({
      ...deploymentRunOptions(deployment),
      input,
      onEvent: progress ? progressPrinter(io) : undefined,
      // The cached assembly's folder: its definition is validated once, not on every run.
      validatedDefinitionsDir: assembly.dir,
    });
    if (json) io.out(JSON.stringify(runDocument(input.action, local.databaseName, run), null, 2));
    else io.out(humanSummary(input.action, run));
    return run.ok ? EXIT_CODES.ok : exitCodeFor(run.error);
  } finally {
    await deployment.stop();
  }
}

/** Checks a folder like the migrate step and uploads it to the stack's bucket as `bundles/<sha256>.json`. */
async function bundleFolder(cmd: ParsedCommand, dir: string): Promise<BundleRef & { count: number }> {
  const flag = (name: string): string | undefined =>
    typeof cmd.flags[name] === 'string' ? (cmd.flags[name] as string) : undefined;
  const bucket = flag('bucket') ?? process.env.PGSHIFT_BUCKET;
  const kmsKeyId = flag('kms-key-id') ?? process.env.PGSHIFT_KMS_KEY_ID;
  if (!bucket || !kmsKeyId) {
    throw new ConfigurationError(
      'a bundle is uploaded to the stack bucket with its key: pass --bucket and --kms-key-id (the stack ' +
        'outputs BucketName and BucketKeyArn), or set PGSHIFT_BUCKET and PGSHIFT_KMS_KEY_ID',
    );
  }
  const { packMigrations, uploadBundle } =
    require('../../lambdas/migrate/bundle') as typeof import('../../lambdas/migrate/bundle');
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

async function runStart(cmd: ParsedCommand, io: Io): Promise<number> {
  let input = executionInputFrom(cmd);
  if (typeof cmd.flags.migrations === 'string') {
    const { bundle, sha256, count } = await bundleFolder(cmd, cmd.flags.migrations);
    if (cmd.flags.json !== true) io.err(`bundled ${count} migrations as ${bundle}`);
    input = parseExecutionInput({ ...input, migrations: { bundle, sha256 } });
  }
  const { findStateMachineArn, remoteClients, startExecution, waitForExecution } =
    require('./remote') as typeof import('./remote');
  const region = typeof cmd.flags.region === 'string' ? cmd.flags.region : undefined;
  const clients = remoteClients(region);
  const arn = await findStateMachineArn(clients, {
    stateMachineArn:
      typeof cmd.flags['state-machine-arn'] === 'string' ? cmd.flags['state-machine-arn'] : undefined,
    stackName: typeof cmd.flags['stack-name'] === 'string' ? cmd.flags['stack-name'] : undefined,
  });
  const executionArn = await startExecution(clients, arn, input);
  const json = cmd.flags.json === true;
  if (!cmd.flags.wait) {
    io.out(
      json
        ? JSON.stringify({ action: input.action, ok: true, database: input.database, executionArn })
        : executionArn,
    );
    return EXIT_CODES.ok;
  }
  if (!json) io.err(`started ${executionArn}`);
  const status = await waitForExecution(clients, executionArn, (state, i) => {
    if (!json) io.err(`  ${String(i + 1).padStart(2)}. ${state}`);
  });
  const ok = status.status === 'SUCCEEDED';
  const output = status.output as
    { input?: { database?: string }; results?: Record<string, { htmlUrl?: string }> } | undefined;
  const reportUrl = output?.results?.report?.htmlUrl;
  if (json) {
    io.out(
      JSON.stringify(
        { action: input.action, ok, database: output?.input?.database ?? input.database, ...status },
        null,
        2,
      ),
    );
  } else {
    io.out(
      `${status.status}${status.error ? `: ${status.error}` : ''}${reportUrl ? `\nreport: ${reportUrl}` : ''}`,
    );
  }
  return ok ? EXIT_CODES.ok : exitCodeFor({ name: status.error });
}

async function runStatus(cmd: ParsedCommand, io: Io): Promise<number> {
  const [executionArn, ...extra] = cmd.positionals;
  if (!executionArn || extra.length > 0)
    throw new InputValidationError(['usage: pgshift status <execution-arn>']);
  const { describeExecution, remoteClients } = require('./remote') as typeof import('./remote');
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
    ? await (
        require('../../lambdas/backup/verify') as typeof import('../../lambdas/backup/verify')
      ).verifyBackups({ store, log: silentLogger }, database, vars.PGSHIFT_BACKUP_PREFIX)
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
          ? `${cmd.flags.verify ? '✓ ' : ''}${b.finishedAt}  ${formatBytes(b.sizeBytes ?? 0).padStart(10)}  ${b.key}`
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
        return await (require('./offline') as typeof import('./offline')).runLintCommand(cmd, io);
      case 'diff':
        return await (require('./offline') as typeof import('./offline')).runDiffCommand(cmd, io);
      case 'bundle':
        return await runBundle(cmd, io);
    }
  } catch (err) {
    io.err(errorLine(err));
    if (process.env.PGSHIFT_DEBUG) io.err(String((err as Error).stack));
    return exitCodeFor(err);
  }
}
