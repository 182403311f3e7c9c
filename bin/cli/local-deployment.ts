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
import { z } from 'zod';
import type { ProgressEvent } from '../../lambdas/shared/progress';
import {
  AwsGateway,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type RecordedCall,
  type RunningExecution,
} from './aws-gateway';
import { imageFiles, readDockerfile } from './dockerfile';
import { FunctionError, FunctionHost, type FunctionIsolation } from './function-host';
import { isRecord } from '../../lambdas/shared/is-record';
import { field, recordField, stringField, stringsField } from './json-shapes';
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
  const context = appContext().pgshift;
  const pgshift = isRecord(context) ? context : {};
  const configured = pgshift.migrationsDir;
  const root = path.resolve(__dirname, '..', '..');
  const migrationsDir =
    typeof configured === 'string' && existsSync(path.join(root, configured))
      ? configured
      : 'examples/migrations';
  return {
    pgshift: {
      ...pgshift,
      database: { secretArn: LOCAL_SECRET_ARN, sslMode: options.sslMode },
      migrationsDir,
      workflow: {
        ...recordField(pgshift, 'workflow'),
        ...(options.lockTimeout ? { lockTimeout: options.lockTimeout } : {}),
        ...(options.statementTimeout ? { statementTimeout: options.statementTimeout } : {}),
        ...(options.fargateThresholdBytes !== undefined
          ? { fargateThresholdBytes: options.fargateThresholdBytes }
          : {}),
      },
    },
  };
}

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

/** A function's environment started (a cold start begins) or ended. */
export interface EnvironmentEvent {
  function: string;
  step: string;
  change: 'started' | 'ended';
  /** Started ahead of its state (LocalDeploymentOptions.warmAhead), not by an invocation. */
  ahead: boolean;
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
  /**
   * While a state runs, start the environment of the function the execution will probably invoke next
   * (runLocalWorkflow's warmAhead), so its cold start overlaps the running state instead of following it.
   * With oneFunctionAtATime at most one such environment waits. @default false
   */
  warmAhead?: boolean;
  /** Told when a function's environment starts or ends (`ahead`: started by warmAhead, not by an invocation). */
  onEnvironment?: (event: EnvironmentEvent) => void;
  /** Flags for each function's `node` (V8 heap sizing), see FunctionHostOptions.nodeArgs. @default none */
  functionNodeArgs?: string[];
  /** Child processes or worker threads for the functions (FunctionHostOptions.isolation). @default 'process' */
  functionIsolation?: FunctionIsolation;
  /**
   * Keep V8's compiled code of the functions' bundles beside the assembly (`<assembly>/code-cache`,
   * FunctionHostOptions.codeCacheDir), so a cold start after the first does not compile them again.
   * @default false
   */
  codeCache?: boolean;
  /**
   * `direct`: the functions' and the Fargate task's S3 requests go straight to the store, as they go straight
   * to S3 on AWS, instead of through the gateway that records them for the IAM simulation. For a run whose
   * recorded calls nobody reads (the CLI): every dumped byte then crosses one process less. The tests keep
   * `recorded`. @default 'recorded'
   */
  s3Path?: 'recorded' | 'direct';
}

export interface LocalDeployment {
  workflow: ResolvedWorkflow;
  functions: DeployedFunction[];
  stateMachineArn: string;
  loadHandler: (step: string) => StepHandler;
  /**
   * Starts `step`'s function environment ahead of its state while the state of step `during` runs (only with
   * the option warmAhead). Resolves once it started or was left out; never rejects.
   */
  warmAhead: ((step: string, during: string) => Promise<void>) | undefined;
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
  'workflow' | 'loadHandler' | 'warmAhead' | 'runFargateTask' | 'stateMachineArn' | 'trackExecution'
> {
  return {
    workflow: d.workflow,
    loadHandler: d.loadHandler,
    warmAhead: d.warmAhead,
    runFargateTask: d.runFargateTask,
    stateMachineArn: d.stateMachineArn,
    trackExecution: d.trackExecution,
  };
}

/** The local name (`Ref`) and attributes (`Fn::GetAtt`) of one resource. */
interface LocalName {
  ref: string;
  att: Record<string, string>;
}

/** Names a resource of one type from its logical id and its name property (`named`). */
type Namer = (id: string, named: (key: string) => string | undefined) => LocalName;

/** A resource named by its name property (else its logical id) whose only attribute is its ARN. */
const namedWithArn =
  (nameKey: string, arn: (name: string) => string): Namer =>
  (id, named) => {
    const name = named(nameKey) ?? id;
    return { ref: name, att: { Arn: arn(name) } };
  };

const LOCAL_ARN = `${LOCAL_REGION}:${LOCAL_ACCOUNT}`;

/** The types whose local names depend on the template alone (S3 and SNS also depend on the deployment). */
const TEMPLATE_NAMERS: Record<string, Namer> = {
  'AWS::KMS::Key': (id) => ({
    ref: `local-key-${id}`,
    att: { Arn: `arn:aws:kms:${LOCAL_ARN}:key/local-key-${id}`, KeyId: `local-key-${id}` },
  }),
  'AWS::IAM::Role': (id, named) => {
    const name = named('RoleName') ?? id;
    return {
      ref: name,
      att: {
        Arn: `arn:aws:iam::${LOCAL_ACCOUNT}:role/${name}`,
        RoleId: `AROA${id.toUpperCase().slice(0, 17)}`,
      },
    };
  },
  'AWS::Lambda::Function': namedWithArn(
    'FunctionName',
    (name) => `arn:aws:lambda:${LOCAL_ARN}:function:${name}`,
  ),
  'AWS::StepFunctions::StateMachine': (id, named) => {
    const name = named('StateMachineName') ?? id;
    const arn = `arn:aws:states:${LOCAL_ARN}:stateMachine:${name}`;
    return { ref: arn, att: { Arn: arn, Name: name } };
  },
  'AWS::Scheduler::ScheduleGroup': namedWithArn(
    'Name',
    (name) => `arn:aws:scheduler:${LOCAL_ARN}:schedule-group/${name}`,
  ),
  'AWS::Logs::LogGroup': (id, named) => {
    const name = named('LogGroupName') ?? `/local/${id}`;
    return { ref: name, att: { Arn: `arn:aws:logs:${LOCAL_ARN}:log-group:${name}:*` } };
  },
  'AWS::CloudWatch::Alarm': namedWithArn(
    'AlarmName',
    (name) => `arn:aws:cloudwatch:${LOCAL_ARN}:alarm:${name}`,
  ),
  'AWS::Events::Rule': namedWithArn('Name', (name) => `arn:aws:events:${LOCAL_ARN}:rule/${name}`),
  'AWS::ECS::Cluster': namedWithArn('ClusterName', (name) => `arn:aws:ecs:${LOCAL_ARN}:cluster/${name}`),
  'AWS::ECS::TaskDefinition': (id, named) => {
    const arn = `arn:aws:ecs:${LOCAL_ARN}:task-definition/${named('Family') ?? id}:1`;
    return { ref: arn, att: { TaskDefinitionArn: arn } };
  },
};

/** The logical ids the functions' environment variables reference (`{ Ref: id }`), by variable name. */
function functionEnvironmentRefs(template: CfnTemplate): Map<string, string> {
  const envRefs = new Map<string, string>();
  for (const res of Object.values(template.Resources)) {
    if (res.Type !== 'AWS::Lambda::Function') continue;
    const vars = recordField(res.Properties?.Environment, 'Variables');
    for (const [name, value] of Object.entries(vars)) {
      const id = stringField(value, 'Ref');
      if (id !== undefined) envRefs.set(name, id);
    }
  }
  return envRefs;
}

/** Physical names the local deployment gives the template's resources. */
export function localNames(
  template: CfnTemplate,
  subs: Pick<LocalSubstitutions, 'bucket' | 'topicArn'>,
): TokenNames {
  const envRefs = functionEnvironmentRefs(template);
  const backupsBucket = envRefs.get('PGSHIFT_BUCKET');
  const alertsTopic = envRefs.get('PGSHIFT_TOPIC_ARN');
  const namers: Record<string, Namer> = {
    ...TEMPLATE_NAMERS,
    'AWS::S3::Bucket': (id, named) => {
      const name = id === backupsBucket ? subs.bucket : (named('BucketName') ?? `local-${id.toLowerCase()}`);
      return { ref: name, att: { Arn: `arn:aws:s3:::${name}`, DomainName: `${name}.s3.amazonaws.com` } };
    },
    'AWS::SNS::Topic': (id, named) => {
      const arn =
        id === alertsTopic && subs.topicArn
          ? subs.topicArn
          : `arn:aws:sns:${LOCAL_ARN}:${named('TopicName') ?? id}`;
      return { ref: arn, att: { TopicArn: arn, TopicName: arn.slice(arn.lastIndexOf(':') + 1) } };
    },
  };
  const ref: Record<string, string> = {};
  const att: Record<string, Record<string, string>> = {};
  for (const [id, res] of Object.entries(template.Resources)) {
    const namer = namers[res.Type];
    if (!namer) continue;
    const local = namer(id, (key) => stringField(res.Properties, key));
    ref[id] = local.ref;
    att[id] = local.att;
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
function lambdaRuntimeEnv(
  fn: DeployedFunction,
  endpoint: string,
  s3Endpoint: string,
): Record<string, string> {
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
    // Substitution: every AWS endpoint is the gateway of this function's role (S3 the store itself when
    // nothing reads the recorded calls: LocalDeploymentOptions.s3Path).
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: s3Endpoint,
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

/** The assembly's Docker image assets: their folders and Dockerfiles, by image tag (the asset hash). */
const assetManifest = z.object({
  dockerImages: z
    .record(
      z.string(),
      z.object({ source: z.object({ directory: z.string(), dockerFile: z.string().optional() }) }),
    )
    .optional(),
});

function dockerImageAssets(
  assembly: SynthesizedAssembly,
): Record<string, { directory: string; dockerFile?: string }> {
  const manifest = assetManifest.parse(
    JSON.parse(readFileSync(path.join(assembly.dir, `${LOCAL_STACK_ID}.assets.json`), 'utf8')),
  );
  return Object.fromEntries(
    Object.entries(manifest.dockerImages ?? {}).map(([tag, img]) => [tag, img.source]),
  );
}

/** Every Lambda function of the template with what running it needs. */
export function deployedFunctions(assembly: SynthesizedAssembly, resolved: CfnTemplate): DeployedFunction[] {
  const images = dockerImageAssets(assembly);
  const out: DeployedFunction[] = [];
  for (const [id, res] of Object.entries(assembly.template.Resources)) {
    if (res.Type !== 'AWS::Lambda::Function') continue;
    const p = resolved.Resources[id]?.Properties ?? {};
    const roleLogicalId = stringsField(res.Properties?.Role, 'Fn::GetAtt')?.[0];
    const env = stringEnv(recordField(p.Environment, 'Variables'));
    const image = p.PackageType === 'Image';
    let assetDir: string;
    let handler: string;
    if (image) {
      const uri = stringField(p.Code, 'ImageUri') ?? '';
      const tag = uri.split(':').pop() ?? '';
      const dir = images[tag]?.directory;
      if (!dir) throw new Error(`function ${id}: its image ${uri} is not an asset of this assembly`);
      assetDir = assembly.assetDir(dir);
      handler = stringsField(p.ImageConfig, 'Command')?.[0] ?? '';
    } else {
      const assetPath = field(field(res, 'Metadata'), 'aws:asset:path');
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

type ImageTree = ReturnType<typeof assembleImage>;

/** A function's code folder and environment, prepared once per function. */
interface PreparedCode {
  taskRoot: string;
  env: Record<string, string>;
}

/** The resolved template as a template: resolving tokens keeps every resource's shape. */
function isCfnTemplate(value: unknown): value is CfnTemplate {
  const resources = field(value, 'Resources');
  return isRecord(resources) && Object.values(resources).every((r) => typeof field(r, 'Type') === 'string');
}

/**
 * The functions of a local deployment as they run: each in its FunctionHost, from its code folder under `tmp`
 * or the image's file tree (assembled once, shared by the image's functions and the Fargate task).
 */
class LocalFunctionHosts {
  private readonly hosts = new Map<string, FunctionHost>();
  /** The function whose environment was started ahead (warmAhead) and not invoked since. */
  private warmedAhead: string | undefined;
  private readonly stopping = new Set<Promise<void>>();
  private stopped = false;
  // A function's code and environment are prepared once; a stopped environment is started again from them
  // (a cold start), never copied twice.
  private readonly prepared = new Map<string, Promise<PreparedCode>>();
  private image: ImageTree | undefined;
  private readonly options: LocalDeploymentOptions;
  private readonly gateway: AwsGateway;
  readonly tmp: string;

  constructor(options: LocalDeploymentOptions, gateway: AwsGateway) {
    this.options = options;
    this.gateway = gateway;
    this.tmp = mkdtempSync(path.join(os.tmpdir(), 'pgshift-deployment-'));
  }

  private get subs(): LocalSubstitutions {
    return this.options.substitutions;
  }

  imageTree(assetDir: string): ImageTree {
    if (this.image) return this.image;
    const image = assembleImage(
      assetDir,
      dockerfileOf(this.options.assembly, assetDir),
      path.join(this.tmp, 'image'),
    );
    this.image = image;
    // The Fargate task applies migrations too: the same substitution as the migrate function's, where the
    // image carries the folder.
    const baked = path.join(image.taskRoot, 'migrations');
    if (this.subs.migrationsDir && existsSync(baked)) {
      rmSync(baked, { recursive: true, force: true });
      // The backup and restore functions share this tree and need no migrations: a substituted folder that
      // does not exist (`pgshift local backup` outside a project) leaves the task without any, so a Fargate
      // apply fails on the missing folder instead of running the migrations baked in at synth.
      if (existsSync(this.subs.migrationsDir)) copyTree(path.resolve(this.subs.migrationsDir), baked);
    }
    return image;
  }

  prepareTaskRoot(root: string): void {
    // A substitution replaces what the asset carries; it never supplies what the asset lacks.
    if (!existsSync(path.join(root, CA_BUNDLE_IN_ASSET))) {
      throw new Error(
        `the deployed code at ${root} has no ${CA_BUNDLE_IN_ASSET}: every TLS connection to the database would fail (lambdas/shared/db.ts rdsCaBundlePath)`,
      );
    }
    if (this.subs.caBundleFile) replaceFile(root, CA_BUNDLE_IN_ASSET, this.subs.caBundleFile);
  }

  /** The S3 endpoint for code whose role's gateway is `gatewayEndpoint` (see LocalDeploymentOptions.s3Path). */
  s3Endpoint(gatewayEndpoint: string): string {
    return this.options.s3Path === 'direct' ? this.subs.storeEndpoint : gatewayEndpoint;
  }

  private async prepare(fn: DeployedFunction): Promise<PreparedCode> {
    const subs = this.subs;
    let taskRoot: string;
    let imageEnv: Record<string, string> = {};
    if (fn.kind === 'image') {
      const tree = this.imageTree(fn.assetDir);
      taskRoot = tree.taskRoot;
      imageEnv = substituteImageEnv(tree.env, tree.root, subs);
    } else {
      taskRoot = path.join(this.tmp, fn.logicalId);
      copyTree(fn.assetDir, taskRoot);
      if (fn.step === 'migrate' && subs.migrationsDir) {
        rmSync(path.join(taskRoot, 'migrations'), { recursive: true, force: true });
        copyTree(path.resolve(subs.migrationsDir), path.join(taskRoot, 'migrations'));
      }
    }
    this.prepareTaskRoot(taskRoot);
    const endpoint = await this.gateway.endpointFor(fn.roleArn, fn.logicalId);
    const env = {
      ...imageEnv,
      ...fn.env,
      ...lambdaRuntimeEnv(fn, endpoint, this.s3Endpoint(endpoint)),
      ...substitutedEnv(subs),
    };
    if (!subs.topicArn) delete env.PGSHIFT_TOPIC_ARN;
    return { taskRoot, env };
  }

  /** The function's host, to invoke it: with oneFunctionAtATime, other idle environments end first. */
  async hostFor(fn: DeployedFunction): Promise<FunctionHost> {
    if (this.options.oneFunctionAtATime) {
      // The environment started ahead for the next state stays; once invoked it is an ordinary one.
      if (this.warmedAhead === fn.logicalId) this.warmedAhead = undefined;
      await this.endIdle((id) => id !== fn.logicalId && id !== this.warmedAhead);
    }
    return this.host(fn);
  }

  /**
   * Starts the function's environment ahead of its invocation (FunctionHost.warm) while the state of `during`
   * runs. With oneFunctionAtATime every other idle environment ends first (an earlier state's, or one started
   * for a wrong guess), `during`'s too unless it is the running state's: at most these two live.
   */
  async warmAhead(fn: DeployedFunction, during: DeployedFunction): Promise<void> {
    if (this.stopped) return;
    if (this.options.oneFunctionAtATime) {
      this.warmedAhead = fn.logicalId;
      await this.endIdle((id) => id !== fn.logicalId && id !== during.logicalId);
    }
    const host = await this.host(fn);
    // The run may have ended meanwhile: an environment started now would outlive the deployment.
    if (!this.stopped) host.warm();
  }

  /** Ends the idle environments `which` names; resolves once those and any others being ended are gone. */
  private async endIdle(which: (logicalId: string) => boolean): Promise<void> {
    for (const [id, host] of this.hosts) {
      if (host.busy || !which(id)) continue;
      this.hosts.delete(id);
      const stopped = host.stop().finally(() => this.stopping.delete(stopped));
      this.stopping.add(stopped);
    }
    // An invocation and a warm-ahead may end environments at once: neither starts one before all are gone.
    await Promise.all(this.stopping);
  }

  private async host(fn: DeployedFunction): Promise<FunctionHost> {
    const existing = this.hosts.get(fn.logicalId);
    if (existing) return existing;
    let ready = this.prepared.get(fn.logicalId);
    if (!ready) {
      ready = this.prepare(fn);
      this.prepared.set(fn.logicalId, ready);
    }
    const { taskRoot, env } = await ready;
    const again = this.hosts.get(fn.logicalId);
    if (again) return again;
    const host = new FunctionHost({
      name: fn.logicalId,
      taskRoot,
      handler: fn.handler,
      env,
      timeoutSeconds: fn.timeoutSeconds,
      functionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${fn.logicalId}`,
      onProgress: this.options.onProgress,
      onLog: (line) => this.options.onLog?.(fn.logicalId, line),
      nodeArgs: this.options.functionNodeArgs,
      isolation: this.options.functionIsolation,
      codeCacheDir: this.options.codeCache ? path.join(this.options.assembly.dir, 'code-cache') : undefined,
      onEnvironment: (change) =>
        this.options.onEnvironment?.({
          function: fn.logicalId,
          step: fn.step,
          change,
          ahead: change === 'started' && this.warmedAhead === fn.logicalId,
        }),
    });
    this.hosts.set(fn.logicalId, host);
    return host;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.hosts.values()].map((h) => h.stop()));
  }
}

/** The one container of the task definition, as the local Fargate task needs it. */
interface TaskContainer {
  entryPoint: string[];
  command: string[];
  environment: Record<string, string>;
}

function taskContainer(taskDefinition: CfnTemplate['Resources'][string]): TaskContainer {
  const containers = taskDefinition.Properties?.ContainerDefinitions;
  const container: unknown = Array.isArray(containers) ? containers[0] : undefined;
  const environment: Record<string, string> = {};
  const entries = field(container, 'Environment');
  for (const e of Array.isArray(entries) ? entries : []) {
    const name = stringField(e, 'Name');
    const value = stringField(e, 'Value');
    if (name !== undefined && value !== undefined) environment[name] = value;
  }
  return {
    entryPoint: stringsField(container, 'EntryPoint') ?? [],
    command: stringsField(container, 'Command') ?? [],
    environment,
  };
}

/** Runs a task process to its end; resolves with its exit code, each output line to `onLine`. */
function runTaskProcess(
  script: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  onLine: (line: string) => void,
): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const log = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line) onLine(line);
    };
    child.stdout.on('data', log);
    child.stderr.on('data', log);
    child.on('error', reject);
    child.on('exit', (c) => resolve(c ?? 1));
  });
}

/** The Fargate task of the template, run as a process from the image's file tree with the container's environment. */
function localFargateRunner(
  options: LocalDeploymentOptions,
  resolved: CfnTemplate,
  functions: DeployedFunction[],
  hosts: LocalFunctionHosts,
  gateway: AwsGateway,
): FargateRunner {
  const subs = options.substitutions;
  const taskDef = Object.values(resolved.Resources).find((r) => r.Type === 'AWS::ECS::TaskDefinition');
  return async (step, event, overrides = {}) => {
    if (!taskDef) throw new Error('the template has no ECS task definition');
    const container = taskContainer(taskDef);
    const taskRoleArn = String(taskDef.Properties?.TaskRoleArn);
    const imageFn = functions.find((f) => f.kind === 'image');
    if (!imageFn) throw new Error('the template has no image function whose asset the task could run');
    const tree = hosts.imageTree(imageFn.assetDir);
    hosts.prepareTaskRoot(tree.taskRoot);
    const [cmd, entry = '', ...args] = [...container.entryPoint, ...container.command];
    if (cmd !== 'node') throw new Error(`the Fargate container's entry point ${cmd} is not node`);
    const script = path.join(tree.root, entry);
    if (!existsSync(script)) {
      throw new Error(`the Fargate entry point ${entry} is not in the image's file tree (${script})`);
    }
    const endpoint = await gateway.endpointFor(taskRoleArn, 'FargateTask');
    const env: Record<string, string> = {
      ...substituteImageEnv(tree.env, tree.root, subs),
      LAMBDA_TASK_ROOT: tree.taskRoot,
      ...container.environment,
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
      AWS_ENDPOINT_URL_S3: hosts.s3Endpoint(endpoint),
      ...substitutedEnv(subs),
    };
    if (!subs.topicArn) delete env.PGSHIFT_TOPIC_ARN;
    const code = await runTaskProcess(script, args, tree.taskRoot, env, (line) =>
      options.onLog?.('FargateTask', line),
    );
    if (code !== 0) {
      // What ecs:runTask.sync reports for a task whose essential container exits non-zero.
      throw new FunctionError(
        'States.TaskFailed',
        JSON.stringify({ StopCode: 'EssentialContainerExited', Containers: [{ ExitCode: code }] }),
      );
    }
  };
}

/** The gateway of a deployment: its secret, the bucket's and topic's keys, the executions running. */
function deploymentGateway(
  options: LocalDeploymentOptions,
  resolved: CfnTemplate,
  functions: DeployedFunction[],
  runningExecutions: () => RunningExecution[],
): AwsGateway {
  const subs = options.substitutions;
  const bucketKeyArn =
    subs.kmsKeyId ?? functions.find((f) => f.env.PGSHIFT_KMS_KEY_ID)?.env.PGSHIFT_KMS_KEY_ID;
  const topicKeys: Record<string, string> = {};
  for (const res of Object.values(resolved.Resources)) {
    if (res.Type !== 'AWS::SNS::Topic') continue;
    const key = res.Properties?.KmsMasterKeyId;
    const topicArn = subs.topicArn;
    if (typeof key === 'string' && topicArn) topicKeys[topicArn] = key;
  }
  return new AwsGateway({
    storeEndpoint: subs.storeEndpoint,
    snsEndpoint: subs.snsEndpoint,
    secrets: [{ arn: subs.databaseSecret.arn, value: subs.databaseSecret.value }],
    bucketKeys: bucketKeyArn ? { [subs.bucket]: bucketKeyArn } : {},
    topicKeys,
    runningExecutions,
    scheduleDelayMs: options.scheduleDelayMs,
  });
}

/** Delivers an event as EventBridge would: to the function target of every rule whose pattern matches. */
async function deliverToRules(
  resolved: CfnTemplate,
  functions: DeployedFunction[],
  hosts: LocalFunctionHosts,
  event: Record<string, unknown>,
): Promise<{ rule: string; function: string; result: unknown }[]> {
  const out: { rule: string; function: string; result: unknown }[] = [];
  for (const [ruleId, rule] of Object.entries(resolved.Resources)) {
    if (rule.Type !== 'AWS::Events::Rule' || !matchesPattern(rule.Properties?.EventPattern, event)) continue;
    const targets = rule.Properties?.Targets;
    for (const target of Array.isArray(targets) ? targets : []) {
      const fn = functions.find(
        (f) =>
          stringField(target, 'Arn') ===
          `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT}:function:${f.logicalId}`,
      );
      if (!fn) continue;
      out.push({
        rule: ruleId,
        function: fn.logicalId,
        result: await (await hosts.hostFor(fn)).invoke(event),
      });
    }
  }
  return out;
}

/** Starts a local deployment of a synthesized assembly (see LocalSubstitutions for what differs from AWS). */
// eslint-disable-next-line @typescript-eslint/require-await -- async so that a setup error rejects, as callers expect
export async function startLocalDeployment(options: LocalDeploymentOptions): Promise<LocalDeployment> {
  const { assembly, substitutions: subs } = options;
  const names = localNames(assembly.template, subs);
  const resolved = resolveTokens(assembly.template, assembly.template, names);
  if (!isCfnTemplate(resolved)) throw new Error('the resolved template has no Resources');
  const workflow = resolveWorkflow(assembly.template, names);
  const functions = deployedFunctions(assembly, resolved);
  const machineName = stringField(
    Object.values(resolved.Resources).find((r) => r.Type === 'AWS::StepFunctions::StateMachine')?.Properties,
    'StateMachineName',
  );
  const stateMachineArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${machineName ?? workflow.logicalId}`;
  const running = new Map<string, RunningExecution>();
  const gateway = deploymentGateway(options, resolved, functions, () => [...running.values()]);
  const hosts = new LocalFunctionHosts(options, gateway);
  const byStep = new Map(functions.map((f) => [f.step, f]));
  return {
    workflow,
    functions,
    stateMachineArn,
    loadHandler: (step: string): StepHandler => {
      const fn = byStep.get(step);
      if (!fn) throw new Error(`the template has no function for step "${step}"`);
      return async (event) => (await hosts.hostFor(fn)).invoke(event);
    },
    warmAhead: options.warmAhead
      ? (step, during) => {
          const fn = byStep.get(step);
          const running = byStep.get(during);
          // An image function (pg_dump, pg_restore, the schema's tools) or a Fargate task streams data and
          // holds the run's peak memory: nothing waits beside it (docs/performance.md, CLI memory).
          if (!fn || running?.kind !== 'zip') return Promise.resolve();
          // A failure to prepare the function is remembered and is the invocation's error, where it belongs.
          return hosts.warmAhead(fn, running).catch(() => undefined);
        }
      : undefined,
    runFargateTask: localFargateRunner(options, resolved, functions, hosts, gateway),
    gateway,
    calls: gateway.calls,
    resolved,
    trackExecution: (name, input) => {
      const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${machineName}:${name}`;
      running.set(executionArn, { executionArn, stateMachineArn, name, input: JSON.stringify(input) });
      return () => running.delete(executionArn);
    },
    deliverEvent: (event) => deliverToRules(resolved, functions, hosts, event),
    stop: async () => {
      await hosts.stop();
      await gateway.close();
      rmSync(hosts.tmp, { recursive: true, force: true });
    },
  };
}

/**
 * EventBridge's matching for the patterns pgshift writes: every key of the pattern must be in the event; an
 * array lists the values allowed, an object matches one level down.
 */
export function matchesPattern(pattern: unknown, event: unknown): boolean {
  if (!pattern || typeof pattern !== 'object') return false;
  return Object.entries(pattern).every(([key, want]: [string, unknown]) => {
    const value = field(event, key);
    if (Array.isArray(want)) return want.includes(value);
    return typeof want === 'object' && matchesPattern(want, value);
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
  for (const img of Object.values(dockerImageAssets(assembly))) {
    if (assembly.assetDir(img.directory) === assetDir) return img.dockerFile ?? 'Dockerfile';
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
