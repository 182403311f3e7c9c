import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ProgressEvent } from '../../lambdas/shared/progress';
import { AwsGateway, LOCAL_ACCOUNT, LOCAL_REGION, type RecordedCall } from './aws-gateway';
import { imageFiles, readDockerfile } from './dockerfile';
import { FunctionError, FunctionHost, type FunctionIsolation } from './function-host';
import {
  resolveTokens,
  resolveWorkflow,
  type CfnTemplate,
  type FargateRunner,
  type LocalRunOptions,
  type ResolvedWorkflow,
  type StepHandler,
  type TokenNames,
} from './local-runner';
import { appContext, LOCAL_STACK_ID, type SynthesizedAssembly } from './synth';

/**
 * A local deployment of the synthesized stack: every Lambda function runs from its bundled asset (copied out
 * of the repository into a temporary folder, so nothing resolves into the repo's node_modules), in its own
 * child process, with the template's Handler, Timeout and Environment.Variables and LAMBDA_TASK_ROOT set as
 * Lambda sets it; the image's functions and the Fargate task run from the file tree the Dockerfile's COPY
 * lines build out of the image asset. Every AWS call goes to an AwsGateway endpoint of the caller's role.
 *
 * What differs from AWS is exactly what `LocalSubstitutions` lists, nothing else.
 */
export interface LocalSubstitutions {
  /** The S3-compatible store that stands in for S3 (and for SNS/SQS unless snsEndpoint is given). */
  storeEndpoint: string;
  /** The SNS-compatible server that stands in for SNS. @default storeEndpoint */
  snsEndpoint?: string;
  /** The logical database name (PGSHIFT_DATABASE) the context would give: one synthesis serves them all. */
  databaseName?: string;
  /** A KMS key id the store accepts, standing in for the stack's key (PGSHIFT_KMS_KEY_ID). */
  kmsKeyId?: string;
  /** Another backup key prefix (PGSHIFT_BACKUP_PREFIX; the stack grants `backups/` only). */
  backupPrefix?: string;
  /** The local bucket that stands in for the stack's backup bucket. */
  bucket: string;
  /** The local topic that stands in for the alerts topic; without one, functions get no PGSHIFT_TOPIC_ARN. */
  topicArn?: string;
  /** The database secret's value (RDS JSON shape: host, port, username, password, dbname). */
  databaseSecret: { arn: string; value: string };
  /** A CA bundle that stands in for the RDS bundle at `certs/rds-global-bundle.pem` in every asset. */
  caBundleFile?: string;
  /** The pg tools (pg_dump, pg_restore, psql) that stand in for the image's dnf-installed ones. */
  pgBin: string;
  /** A migrations folder that stands in for the one baked into the migrate asset at synth. */
  migrationsDir?: string;
  /** Environment added to every function on top of the template's (e.g. POWERTOOLS_LOG_LEVEL). */
  extraEnv?: Record<string, string>;
}

/** Where the CA bundle sits in every asset (lambdas/shared/db.ts rdsCaBundlePath()). */
export const CA_BUNDLE_IN_ASSET = path.join('certs', 'rds-global-bundle.pem');
/** The deployed secret ARN the local stack context names (the gateway answers for it). */
export const LOCAL_SECRET_ARN = `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:pgshift-local-db-AbCdEf`;

/**
 * cdk.json's context as a local deployment synthesizes it: the database is the local secret (its value is a
 * substitution) with the given TLS mode, without RDS metric ids (CloudWatch has no local stand-in, so
 * pre-flight's disk check says "skipped"), and the migrations folder of cdk.json when it exists.
 */
export function localStackContext(options: {
  sslMode: string;
  lockTimeout?: string;
  statementTimeout?: string;
  /** Run backups and restores on Fargate above this many bytes (`workflow.fargateThresholdBytes`). */
  fargateThresholdBytes?: number;
}): Record<string, unknown> {
  const pgshift = (appContext().pgshift ?? {}) as Record<string, unknown> & {
    migrationsDir?: string | null;
    workflow?: Record<string, unknown>;
  };
  const root = path.resolve(__dirname, '..', '..');
  const migrationsDir =
    typeof pgshift.migrationsDir === 'string' && existsSync(path.join(root, pgshift.migrationsDir))
      ? pgshift.migrationsDir
      : 'examples/migrations';
  return {
    pgshift: {
      ...pgshift,
      database: { secretArn: LOCAL_SECRET_ARN, sslMode: options.sslMode },
      migrationsDir,
      workflow: {
        ...pgshift.workflow,
        ...(options.lockTimeout ? { lockTimeout: options.lockTimeout } : {}),
        ...(options.statementTimeout ? { statementTimeout: options.statementTimeout } : {}),
        ...(options.fargateThresholdBytes !== undefined
          ? { fargateThresholdBytes: options.fargateThresholdBytes }
          : {}),
      },
    },
  };
}

type CfnResource = CfnTemplate['Resources'][string] & { Metadata?: Record<string, unknown> };

export interface DeployedFunction {
  logicalId: string;
  step: string;
  roleArn: string;
  roleLogicalId: string;
  handler: string;
  timeoutSeconds: number;
  memoryMiB: number;
  /** The asset folder in the assembly (never executed from there). */
  assetDir: string;
  kind: 'zip' | 'image';
  env: Record<string, string>;
}

export interface LocalDeploymentOptions {
  assembly: SynthesizedAssembly;
  substitutions: LocalSubstitutions;
  /** When the Scheduler stand-in fires a schedule (tests shorten it). @default the schedule's own time */
  scheduleDelayMs?: (at: Date) => number;
  onProgress?: (event: ProgressEvent) => void;
  onLog?: (source: string, line: string) => void;
  /**
   * Ends a function's idle environment when another function starts, so one function process lives at a
   * time (a one-off CLI run gains nothing from warm environments and pays their memory; a test suite that
   * reuses a deployment keeps them). @default false
   */
  oneFunctionAtATime?: boolean;
  /** Flags for each function's `node` (V8 heap sizing), see FunctionHostOptions.nodeArgs. @default none */
  functionNodeArgs?: string[];
  /** Child processes or worker threads for the functions (FunctionHostOptions.isolation). @default 'process' */
  functionIsolation?: FunctionIsolation;
}

export interface LocalDeployment {
  workflow: ResolvedWorkflow;
  functions: DeployedFunction[];
  stateMachineArn: string;
  loadHandler: (step: string) => StepHandler;
  runFargateTask: FargateRunner;
  gateway: AwsGateway;
  calls: RecordedCall[];
  /** The template with every token resolved to this deployment's names (for the IAM simulation). */
  resolved: CfnTemplate;
  /** Registers an execution as RUNNING for the Step Functions stand-in. */
  trackExecution: (name: string, input: unknown) => () => void;
  /**
   * Delivers an event as EventBridge would: to the function target of every rule of the template whose
   * pattern matches it. Returns each invoked function's result.
   */
  deliverEvent: (
    event: Record<string, unknown>,
  ) => Promise<{ rule: string; function: string; result: unknown }[]>;
  stop: () => Promise<void>;
}

/** What `runLocalWorkflow` needs of a deployment: its definition, how each Task runs, its ARN, its executions. */
export function deploymentRunOptions(
  d: LocalDeployment,
): Pick<
  LocalRunOptions,
  'workflow' | 'loadHandler' | 'runFargateTask' | 'stateMachineArn' | 'trackExecution'
> {
  return {
    workflow: d.workflow,
    loadHandler: d.loadHandler,
    runFargateTask: d.runFargateTask,
    stateMachineArn: d.stateMachineArn,
    trackExecution: d.trackExecution,
  };
}

/** Physical names the local deployment gives the template's resources. */
export function localNames(
  template: CfnTemplate,
  subs: Pick<LocalSubstitutions, 'bucket' | 'topicArn'>,
): TokenNames {
  const ref: Record<string, string> = {};
  const att: Record<string, Record<string, string>> = {};
  const envRefs = new Map<string, string>();
  for (const res of Object.values(template.Resources)) {
    if (res.Type !== 'AWS::Lambda::Function') continue;
    const vars =
      (res.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
    for (const [name, value] of Object.entries(vars)) {
      const id = (value as { Ref?: string } | null)?.Ref;
      if (typeof id === 'string') envRefs.set(name, id);
    }
  }
  const backupsBucket = envRefs.get('PGSHIFT_BUCKET');
  const alertsTopic = envRefs.get('PGSHIFT_TOPIC_ARN');
  for (const [id, res] of Object.entries(template.Resources)) {
    const p = res.Properties ?? {};
    const named = (key: string): string | undefined =>
      typeof p[key] === 'string' ? (p[key] as string) : undefined;
    switch (res.Type) {
      case 'AWS::S3::Bucket': {
        const name =
          id === backupsBucket ? subs.bucket : (named('BucketName') ?? `local-${id.toLowerCase()}`);
        ref[id] = name;
        att[id] = { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com` };
        break;
      }
      case 'AWS::KMS::Key':
        ref[id] = `local-key-${id}`;
        att[id] = {
          Arn: `arn:aws:kms:${LOCAL_REGION}:${LOCAL_ACCOUNT}:key/local-key-${id}`,
          KeyId: `local-key-${id}`,
        };
        break;
      case 'AWS::SNS::Topic': {
        const arn =
          id === alertsTopic && subs.topicArn
            ? subs.topicArn
            : `arn:aws:sns:${LOCAL_REGION}:${LOCAL_ACCOUNT}:${named('TopicName') ?? id}`;
        ref[id] = arn;
        att[id] = { TopicArn: arn, TopicName: arn.split(':').pop() as string };
        break;
      }
      case 'AWS::IAM::Role': {
        const name = named('RoleName') ?? id;
        ref[id] = name;
        att[id] = {
          Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}`,
          RoleId: `AROA${id.toUpperCase().slice(0, 17)}`,
        };
        break;
      }
      case 'AWS::Lambda::Function': {
        const name = named('FunctionName') ?? id;
        ref[id] = name;
        att[id] = { Arn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${name}` };
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = named('StateMachineName') ?? id;
        const arn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
        ref[id] = arn;
        att[id] = { Arn: arn, Name: name };
        break;
      }
      case 'AWS::Scheduler::ScheduleGroup': {
        const name = named('Name') ?? id;
        ref[id] = name;
        att[id] = { Arn: `arn:aws:scheduler:${LOCAL_REGION}:${LOCAL_ACCOUNT}:schedule-group/${name}` };
        break;
      }
      case 'AWS::Logs::LogGroup': {
        const name = named('LogGroupName') ?? `/local/${id}`;
        ref[id] = name;
        att[id] = { Arn: `arn:aws:logs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:log-group:${name}:*` };
        break;
      }
      case 'AWS::CloudWatch::Alarm': {
        const name = named('AlarmName') ?? id;
        ref[id] = name;
        att[id] = { Arn: `arn:aws:cloudwatch:${LOCAL_REGION}:${LOCAL_ACCOUNT}:alarm:${name}` };
        break;
      }
      case 'AWS::Events::Rule': {
        const name = named('Name') ?? id;
        ref[id] = name;
        att[id] = { Arn: `arn:aws:events:${LOCAL_REGION}:${LOCAL_ACCOUNT}:rule/${name}` };
        break;
      }
      case 'AWS::ECS::Cluster': {
        const name = named('ClusterName') ?? id;
        ref[id] = name;
        att[id] = { Arn: `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:cluster/${name}` };
        break;
      }
      case 'AWS::ECS::TaskDefinition': {
        const arn = `arn:aws:ecs:${LOCAL_REGION}:${LOCAL_ACCOUNT}:task-definition/${named('Family') ?? id}:1`;
        ref[id] = arn;
        att[id] = { TaskDefinitionArn: arn };
        break;
      }
      default:
        break;
    }
  }
  return { ref, att, stackName: LOCAL_STACK_ID };
}

/** Copies a folder by hard links where it can (the same disk), else by copying. */
function copyTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = path.join(from, name);
    const dst = path.join(to, name);
    const st = lstatSync(src);
    if (st.isDirectory()) copyTree(src, dst);
    else if (st.isSymbolicLink()) cpSync(src, dst, { verbatimSymlinks: true });
    else {
      try {
        linkSync(src, dst);
      } catch {
        cpSync(src, dst);
      }
    }
  }
}

/** Replaces a file of a copied tree without touching the (hard-linked) original. */
function replaceFile(root: string, rel: string, source: string): void {
  const dst = path.join(root, rel);
  rmSync(dst, { force: true });
  mkdirSync(path.dirname(dst), { recursive: true });
  cpSync(source, dst);
}

/**
 * The image's file tree, built from the same COPY lines Docker runs against the image asset (so the two
 * cannot diverge), and its ENV. Refuses a Dockerfile that copies from another stage: that tree could hold
 * files the CDK bundling did not build.
 */
export function assembleImage(
  assetDir: string,
  dockerfile: string,
  into: string,
): { root: string; taskRoot: string; env: Record<string, string>; cmd: string[] } {
  const parsed = readDockerfile(readFileSync(path.join(assetDir, dockerfile), 'utf8'));
  if (parsed.copyFrom) {
    throw new Error(
      `${dockerfile} copies from another build stage (COPY --from): the image would contain files the CDK ` +
        'bundling did not build, and its tree cannot be checked here. COPY only from the build context.',
    );
  }
  // The Lambda Node.js base image sets LAMBDA_TASK_ROOT=/var/task.
  const vars: Record<string, string> = { LAMBDA_TASK_ROOT: '/var/task', ...parsed.env };
  for (const [imagePath, source] of imageFiles(parsed, assetDir, vars)) {
    const target = path.join(into, imagePath);
    mkdirSync(path.dirname(target), { recursive: true });
    try {
      linkSync(source, target);
    } catch {
      cpSync(source, target);
    }
  }
  return { root: into, taskRoot: path.join(into, 'var', 'task'), env: parsed.env, cmd: parsed.cmd };
}

/** Lambda's own variables for a function, as the service sets them. */
function lambdaRuntimeEnv(fn: DeployedFunction, endpoint: string): Record<string, string> {
  return {
    AWS_REGION: LOCAL_REGION,
    AWS_DEFAULT_REGION: LOCAL_REGION,
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMiB),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.logicalId}`,
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
    AWS_ACCESS_KEY_ID: 'ASIALOCALDEPLOYMENT',
    AWS_SECRET_ACCESS_KEY: 'local-deployment-secret',
    AWS_SESSION_TOKEN: `local-session-${fn.roleLogicalId}`,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
    // Substitution: every AWS endpoint is the gateway of this function's role.
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
  };
}

function stringEnv(vars: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(vars)) {
    if (typeof v !== 'string')
      throw new Error(`environment variable ${k} did not resolve to a string: ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

/** Every Lambda function of the template with what running it needs. */
export function deployedFunctions(assembly: SynthesizedAssembly, resolved: CfnTemplate): DeployedFunction[] {
  const assets = JSON.parse(
    readFileSync(path.join(assembly.dir, `${LOCAL_STACK_ID}.assets.json`), 'utf8'),
  ) as {
    dockerImages?: Record<string, { source: { directory: string } }>;
  };
  const out: DeployedFunction[] = [];
  for (const [id, res] of Object.entries(assembly.template.Resources) as [string, CfnResource][]) {
    if (res.Type !== 'AWS::Lambda::Function') continue;
    const p = resolved.Resources[id].Properties ?? {};
    const roleLogicalId = ((
      assembly.template.Resources[id].Properties?.Role as { 'Fn::GetAtt'?: string[] }
    )?.['Fn::GetAtt'] ?? [])[0];
    const env = stringEnv(((p.Environment as { Variables?: Record<string, unknown> }) ?? {}).Variables ?? {});
    const image = p.PackageType === 'Image';
    let assetDir: string;
    let handler: string;
    if (image) {
      const uri = String((p.Code as { ImageUri?: unknown }).ImageUri ?? '');
      const tag = uri.split(':').pop() ?? '';
      const dir = assets.dockerImages?.[tag]?.source.directory;
      if (!dir) throw new Error(`function ${id}: its image ${uri} is not an asset of this assembly`);
      assetDir = assembly.assetDir(dir);
      handler = ((p.ImageConfig as { Command?: string[] } | undefined)?.Command ?? [])[0] ?? '';
    } else {
      const assetPath = res.Metadata?.['aws:asset:path'];
      if (typeof assetPath !== 'string')
        throw new Error(`function ${id} has no asset metadata (synthesize with asset metadata)`);
      assetDir = assembly.assetDir(assetPath);
      handler = String(p.Handler);
    }
    out.push({
      logicalId: id,
      step: env.PGSHIFT_STEP ?? id,
      roleLogicalId: roleLogicalId ?? '',
      roleArn: String(p.Role),
      handler,
      timeoutSeconds: Number(p.Timeout ?? 3),
      memoryMiB: Number(p.MemorySize ?? 128),
      assetDir,
      kind: image ? 'image' : 'zip',
      env,
    });
  }
  return out;
}

/** Starts a local deployment of a synthesized assembly (see LocalSubstitutions for what differs from AWS). */
export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const { assembly, substitutions: subs } = options;
  const names = localNames(assembly.template, subs);
  const resolved = resolveTokens(assembly.template, assembly.template, names) as CfnTemplate;
  const workflow = resolveWorkflow(assembly.template, names);
  const functions = deployedFunctions(assembly, resolved);
  const machineName = Object.values(resolved.Resources).find(
    (r) => r.Type === 'AWS::StepFunctions::StateMachine',
  )?.Properties?.StateMachineName as string | undefined;
  const stateMachineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${machineName ?? workflow.logicalId}`;
  const running = new Map<
    string,
    { executionArn: string; stateMachineArn: string; name: string; input: string }
  >();

  const bucketKeyArn =
    subs.kmsKeyId ?? functions.find((f) => f.env.PGSHIFT_KMS_KEY_ID)?.env.PGSHIFT_KMS_KEY_ID;
  const topicKeys: Record<string, string> = {};
  for (const res of Object.values(resolved.Resources)) {
    if (res.Type !== 'AWS::SNS::Topic') continue;
    const key = res.Properties?.KmsMasterKeyId;
    const topicArn = subs.topicArn;
    if (typeof key === 'string' && topicArn) topicKeys[topicArn] = key;
  }
  const gateway = new AwsGateway({
    storeEndpoint: subs.storeEndpoint,
    snsEndpoint: subs.snsEndpoint,
    secrets: [{ arn: subs.databaseSecret.arn, value: subs.databaseSecret.value }],
    bucketKeys: bucketKeyArn ? { [subs.bucket]: bucketKeyArn } : {},
    topicKeys,
    runningExecutions: () => [...running.values()],
    scheduleDelayMs: options.scheduleDelayMs,
  });

  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pgshift-deployment-'));
  let image: ReturnType<typeof assembleImage> | undefined;
  const imageTree = (assetDir: string): ReturnType<typeof assembleImage> => {
    if (!image) {
      image = assembleImage(assetDir, dockerfileOf(assembly, assetDir), path.join(tmp, 'image'));
      // The Fargate task applies migrations too: the same substitution as the migrate function's, where the
      // image carries the folder.
      const baked = path.join(image.taskRoot, 'migrations');
      if (subs.migrationsDir && existsSync(baked)) {
        rmSync(baked, { recursive: true, force: true });
        // The backup and restore functions share this tree and need no migrations: a substituted folder that
        // does not exist (`pgshift local backup` outside a project) leaves the task without any, so a Fargate
        // apply fails on the missing folder instead of running the migrations baked in at synth.
        if (existsSync(subs.migrationsDir)) copyTree(path.resolve(subs.migrationsDir), baked);
      }
    }
    return image;
  };
  const prepareTaskRoot = (root: string): void => {
    // A substitution replaces what the asset carries; it never supplies what the asset lacks.
    if (!existsSync(path.join(root, CA_BUNDLE_IN_ASSET))) {
      throw new Error(
        `the deployed code at ${root} has no ${CA_BUNDLE_IN_ASSET}: every TLS connection to the database would fail (lambdas/shared/db.ts rdsCaBundlePath)`,
      );
    }
    if (subs.caBundleFile) replaceFile(root, CA_BUNDLE_IN_ASSET, subs.caBundleFile);
  };

  const hosts = new Map<string, FunctionHost>();
  // A function's code and environment are prepared once; a stopped environment is started again from them
  // (a cold start), never copied twice.
  const prepared = new Map<string, Promise<{ taskRoot: string; env: Record<string, string> }>>();
  const prepare = async (
    fn: DeployedFunction,
  ): Promise<{ taskRoot: string; env: Record<string, string> }> => {
    let taskRoot: string;
    let imageEnv: Record<string, string> = {};
    if (fn.kind === 'image') {
      const tree = imageTree(fn.assetDir);
      taskRoot = tree.taskRoot;
      imageEnv = substituteImageEnv(tree.env, tree.root, subs);
    } else {
      taskRoot = path.join(tmp, fn.logicalId);
      copyTree(fn.assetDir, taskRoot);
      if (fn.step === 'migrate' && subs.migrationsDir) {
        rmSync(path.join(taskRoot, 'migrations'), { recursive: true, force: true });
        copyTree(path.resolve(subs.migrationsDir), path.join(taskRoot, 'migrations'));
      }
    }
    prepareTaskRoot(taskRoot);
    const endpoint = await gateway.endpointFor(fn.roleArn, fn.logicalId);
    const env = { ...imageEnv, ...fn.env, ...lambdaRuntimeEnv(fn, endpoint), ...substitutedEnv(subs) };
    if (!subs.topicArn) delete env.PGSHIFT_TOPIC_ARN;
    return { taskRoot, env };
  };
  const byStep = new Map(functions.map((f) => [f.step, f]));
  const hostFor = async (fn: DeployedFunction): Promise<FunctionHost> => {
    const existing = hosts.get(fn.logicalId);
    if (existing) return existing;
    if (options.oneFunctionAtATime) {
      for (const [id, idle] of hosts) {
        if (idle.busy) continue;
        hosts.delete(id);
        await idle.stop();
      }
    }
    let ready = prepared.get(fn.logicalId);
    if (!ready) {
      ready = prepare(fn);
      prepared.set(fn.logicalId, ready);
    }
    const { taskRoot, env } = await ready;
    const again = hosts.get(fn.logicalId);
    if (again) return again;
    const host = new FunctionHost({
      name: fn.logicalId,
      taskRoot,
      handler: fn.handler,
      env,
      timeoutSeconds: fn.timeoutSeconds,
      functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${fn.logicalId}`,
      onProgress: options.onProgress,
      onLog: (line) => options.onLog?.(fn.logicalId, line),
      nodeArgs: options.functionNodeArgs,
      isolation: options.functionIsolation,
    });
    hosts.set(fn.logicalId, host);
    return host;
  };

  const loadHandler = (step: string): StepHandler => {
    const fn = byStep.get(step);
    if (!fn) throw new Error(`the template has no function for step "${step}"`);
    return async (event) => (await hostFor(fn)).invoke(event);
  };

  const taskDef = Object.entries(resolved.Resources).find(([, r]) => r.Type === 'AWS::ECS::TaskDefinition');
  const runFargateTask: FargateRunner = async (step, event, overrides = {}) => {
    if (!taskDef) throw new Error('the template has no ECS task definition');
    const [, def] = taskDef;
    const container = (
      def.Properties?.ContainerDefinitions as {
        EntryPoint?: string[];
        Command?: string[];
        Environment?: { Name: string; Value: string }[];
        Image?: string;
      }[]
    )[0];
    const taskRoleArn = String(def.Properties?.TaskRoleArn);
    const imageFn = functions.find((f) => f.kind === 'image');
    if (!imageFn) throw new Error('the template has no image function whose asset the task could run');
    const tree = imageTree(imageFn.assetDir);
    prepareTaskRoot(tree.taskRoot);
    const [cmd, ...args] = [...(container.EntryPoint ?? []), ...(container.Command ?? [])];
    if (cmd !== 'node') throw new Error(`the Fargate container's entry point ${cmd} is not node`);
    const script = path.join(tree.root, args[0]);
    if (!existsSync(script)) {
      throw new Error(`the Fargate entry point ${args[0]} is not in the image's file tree (${script})`);
    }
    const endpoint = await gateway.endpointFor(taskRoleArn, 'FargateTask');
    const containerEnv = Object.fromEntries((container.Environment ?? []).map((e) => [e.Name, e.Value]));
    const env: Record<string, string> = {
      ...substituteImageEnv(tree.env, tree.root, subs),
      LAMBDA_TASK_ROOT: tree.taskRoot,
      ...containerEnv,
      ...overrides,
      PGSHIFT_STEP: overrides.PGSHIFT_STEP ?? step,
      PGSHIFT_EVENT: overrides.PGSHIFT_EVENT ?? JSON.stringify(event),
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: 'ASIALOCALFARGATETASK',
      AWS_SECRET_ACCESS_KEY: 'local-task-secret',
      AWS_SESSION_TOKEN: 'local-task-session',
      PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`,
      AWS_ENDPOINT_URL: endpoint,
      AWS_ENDPOINT_URL_S3: endpoint,
      ...substitutedEnv(subs),
    };
    if (!subs.topicArn) delete env.PGSHIFT_TOPIC_ARN;
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, [script, ...args.slice(1)], {
        cwd: tree.taskRoot,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const log = (chunk: Buffer) => {
        for (const line of chunk.toString('utf8').split('\n')) if (line) options.onLog?.('FargateTask', line);
      };
      child.stdout.on('data', log);
      child.stderr.on('data', log);
      child.on('error', reject);
      child.on('exit', (c) => resolve(c ?? 1));
    });
    if (code !== 0) {
      // What ecs:runTask.sync reports for a task whose essential container exits non-zero.
      throw new FunctionError(
        'States.TaskFailed',
        JSON.stringify({ StopCode: 'EssentialContainerExited', Containers: [{ ExitCode: code }] }),
      );
    }
  };

  return {
    workflow,
    functions,
    stateMachineArn,
    loadHandler,
    runFargateTask,
    gateway,
    calls: gateway.calls,
    resolved,
    trackExecution: (name, input) => {
      const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machineName}:${name}`;
      running.set(executionArn, { executionArn, stateMachineArn, name, input: JSON.stringify(input) });
      return () => running.delete(executionArn);
    },
    deliverEvent: async (event) => {
      const out: { rule: string; function: string; result: unknown }[] = [];
      for (const [ruleId, rule] of Object.entries(resolved.Resources)) {
        if (rule.Type !== 'AWS::Events::Rule' || !matchesPattern(rule.Properties?.EventPattern, event))
          continue;
        for (const target of (rule.Properties?.Targets as { Arn?: string }[] | undefined) ?? []) {
          const fn = functions.find(
            (f) => target.Arn === `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${f.logicalId}`,
          );
          if (!fn) continue;
          out.push({ rule: ruleId, function: fn.logicalId, result: await (await hostFor(fn)).invoke(event) });
        }
      }
      return out;
    },
    stop: async () => {
      await Promise.all([...hosts.values()].map((h) => h.stop()));
      await gateway.close();
      rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/**
 * EventBridge's matching for the patterns pgshift writes: every key of the pattern must be in the event; an
 * array lists the values allowed, an object matches one level down.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!pattern || typeof pattern !== 'object') return false;
  const ev = (event ?? {}) as Record<string, unknown>;
  return Object.entries(pattern as Record<string, unknown>).every(([key, want]) => {
    if (Array.isArray(want)) return want.includes(ev[key]);
    return typeof want === 'object' && matchesPattern(want, ev[key]);
  });
}

/** The environment variables a substitution replaces (each named in LocalSubstitutions). */
function substitutedEnv(subs: LocalSubstitutions): Record<string, string> {
  return {
    ...(subs.databaseName ? { PGSHIFT_DATABASE: subs.databaseName } : {}),
    ...(subs.kmsKeyId ? { PGSHIFT_KMS_KEY_ID: subs.kmsKeyId } : {}),
    ...(subs.backupPrefix ? { PGSHIFT_BACKUP_PREFIX: subs.backupPrefix } : {}),
    ...subs.extraEnv,
  };
}

function dockerfileOf(assembly: SynthesizedAssembly, assetDir: string): string {
  const assets = JSON.parse(
    readFileSync(path.join(assembly.dir, `${LOCAL_STACK_ID}.assets.json`), 'utf8'),
  ) as {
    dockerImages?: Record<string, { source: { directory: string; dockerFile?: string } }>;
  };
  for (const img of Object.values(assets.dockerImages ?? {})) {
    if (assembly.assetDir(img.source.directory) === assetDir) return img.source.dockerFile ?? 'Dockerfile';
  }
  return 'Dockerfile';
}

/**
 * The image's ENV as the tree on this machine needs it: paths inside the image move under the tree's root,
 * and PGSHIFT_PG_BIN (the image's dnf-installed client) becomes the local pg tools (a named substitution).
 */
function substituteImageEnv(
  env: Record<string, string>,
  root: string,
  subs: LocalSubstitutions,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (k === 'LAMBDA_TASK_ROOT') continue;
    out[k] = v.startsWith('/var/task') || v.startsWith('/opt/') ? path.join(root, v) : v;
  }
  out.PGSHIFT_PG_BIN = subs.pgBin;
  return out;
}
