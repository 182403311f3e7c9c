import { z } from 'zod';
import { parseExecutionInput } from '../lambdas/shared/input';
import { errorMessage } from '../lambdas/shared/errors';

/** CloudWatch Logs accepts only these retention periods (days). */
const LOG_RETENTION_DAYS = [
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
] as const;

const awsId = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}-[0-9a-f]{8,17}$`), `must look like ${prefix}-0123456789abcdef0`);

const maintenanceWindowSchema = z
  .object({
    /** Becomes part of the schedule's name: letters, digits, `-`, `_`. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, - and _ only (max 40)'),
    /** An EventBridge Scheduler expression, e.g. `cron(0 3 ? * SUN *)` or `rate(1 day)`. */
    schedule: z.string().regex(/^(cron|rate|at)\(.+\)$/, 'must be cron(...), rate(...) or at(...)'),
    /** IANA time zone the cron is read in. @default "UTC" */
    timezone: z.string().min(1).default('UTC'),
    /** The execution input, validated like the console's (docs/console-inputs.md). */
    input: z.record(z.string(), z.unknown()),
    /** A disabled window is deployed but does not fire. @default true */
    enabled: z.boolean().default(true),
  })
  .strict()
  .superRefine((w, ctx) => {
    try {
      parseExecutionInput(w.input);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['input'], message: errorMessage(err) });
    }
  });

/** GitHub names: a user or organization (letters, digits, single inner hyphens, max 39). */
const githubOwner = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}$/,
    'a GitHub user or organization: letters, digits and inner hyphens (max 39), e.g. "acme"',
  );
const githubRepo = z
  .string()
  .regex(
    /^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/,
    'a repository name: letters, digits, . _ - (max 100), e.g. "app"',
  );
/** A branch name as git allows it, without wildcards (the trust policy matches it exactly). */
const gitBranch = z
  .string()
  .regex(
    /^(?!refs\/)(?!\/)(?!.*\/\/)(?!.*\.\.)(?!.*[/.]$)[A-Za-z0-9._/-]{1,200}$/,
    'a branch name such as "main" (no refs/heads/ prefix, no wildcards, spaces or "..")',
  );

const githubOidcSchema = z
  .object({
    owner: githubOwner,
    repo: githubRepo,
    /** The branch whose pushes apply migrations. */
    branch: gitBranch,
    /**
     * The account's existing GitHub OIDC provider (one per account: a second fails the deploy).
     * @default a provider is created with the stack
     */
    providerArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/,
        "must be the ARN of the account's GitHub OIDC provider, " +
          'arn:aws:iam::<account>:oidc-provider/token.actions.githubusercontent.com',
      )
      .optional(),
  })
  .strict();

/**
 * The `pgshift` context of `cdk.json` (or `-c pgshift='{...}'`): everything a deployment needs, validated at
 * synth so a typo fails before CloudFormation does. Documented with sample values in docs/deploy.md.
 */
export const pgshiftContextSchema = z
  .object({
    /** Logical database name: S3 keys, alerts and reports use it (PGSHIFT_DATABASE). */
    databaseName: z.string().regex(/^[A-Za-z0-9_.-]{1,63}$/, 'letters, digits, _ . - only (max 63)'),
    database: z
      .object({
        /** Secrets Manager secret (RDS shape: username, password, and host/port/dbname unless given below). */
        secretArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/, 'must be a secret ARN'),
        /** Customer-managed KMS key of the secret (RDS-managed secrets may use one). @default none */
        secretKmsKeyArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:kms:/, 'must be a KMS key ARN')
          .optional(),
        host: z.string().min(1).optional(),
        port: z.number().int().min(1).max(65535).optional(),
        /** The PostgreSQL database to connect to. @default the secret's `dbname` */
        name: z.string().min(1).optional(),
        sslMode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).optional(),
        /** RDS instance id: pre-flight reads its FreeStorageSpace from CloudWatch. @default disk check skipped */
        rdsInstanceId: z.string().min(1).optional(),
        /** Aurora cluster id (instead of rdsInstanceId): pre-flight reads the writer's FreeLocalStorage. */
        rdsClusterId: z.string().min(1).optional(),
      })
      .strict(),
    network: z
      .object({
        vpcId: awsId('vpc'),
        /** Private subnets that can reach the database (and S3/Secrets Manager/SNS via endpoints or NAT). */
        subnetIds: z.array(awsId('subnet')).min(1),
        /** Availability zones of the subnets, same order. @default "<region>a", "<region>b"... (unused by Lambda) */
        availabilityZones: z.array(z.string().min(1)).optional(),
        /** pgshift's security group (functions and Fargate task): out to the database port and to HTTPS. */
        securityGroupId: awsId('sg'),
        /**
         * The database's security group: pgshift adds an ingress rule on the database port (`database.port`,
         * else 5432) from `securityGroupId`. @default none (you add that rule yourself)
         */
        databaseSecurityGroupId: awsId('sg').optional(),
        /**
         * Create the VPC endpoints the in-VPC functions and the Fargate task call (S3 gateway; secretsmanager,
         * ecr.api, ecr.dkr, logs, and monitoring with the disk check), for subnets without NAT. @default false
         */
        createEndpoints: z.boolean().default(false),
        /** Route tables of the subnets, for the S3 gateway endpoint. Required with `createEndpoints`. @default none */
        routeTableIds: z.array(awsId('rtb')).min(1).optional(),
      })
      .strict()
      .superRefine((n, ctx) => {
        if (n.createEndpoints && !n.routeTableIds) {
          ctx.addIssue({
            code: 'custom',
            path: ['routeTableIds'],
            message: 'required with createEndpoints: the S3 gateway endpoint is attached to route tables',
          });
        }
      }),
    /**
     * Folder of migration files (relative to the repository), bundled into the migrate function. Synth fails when
     * it does not exist; `null` deploys without migrations. @default "migrations"
     */
    migrationsDir: z.string().min(1).nullable().default('migrations'),
    /**
     * PostgreSQL client major version in the image; must be >= the server's. @default 17 (the newest Amazon
     * Linux 2023 ships)
     */
    pgMajor: z.number().int().min(15).max(17).default(17),
    backups: z
      .object({
        /** Move backups to Glacier Instant Retrieval after N days. @default 30 */
        glacierAfterDays: z.number().int().min(1).optional().default(30),
        /** Delete backups after N days (the seed's retention). @default 365 */
        expireAfterDays: z.number().int().min(1).default(365),
        /** Delete overwritten/deleted object versions after N days. @default 30 */
        noncurrentExpireAfterDays: z.number().int().min(1).default(30),
        /** Object Lock (WORM) on new objects: tamper-proof backups. Only at bucket creation. @default off */
        objectLock: z
          .object({ mode: z.enum(['GOVERNANCE', 'COMPLIANCE']), days: z.number().int().min(1) })
          .strict()
          .optional(),
      })
      .strict()
      .default({ glacierAfterDays: 30, expireAfterDays: 365, noncurrentExpireAfterDays: 30 }),
    workflow: z
      .object({
        /** The whole execution's timeout. @default 240 */
        executionTimeoutMinutes: z.number().int().min(5).max(525600).default(240),
        /** "Still running" alert after this many minutes (watchdog schedule + ExecutionTime alarm). @default 60 */
        durationWarningMinutes: z.number().int().min(1).default(60),
        /** Back up on Fargate when the database is larger than this. @default 10 GiB */
        fargateThresholdBytes: z
          .number()
          .int()
          .min(0)
          .default(10 * 1024 ** 3),
        /** Apply's retries on LockTimeoutError. @default 4 attempts, 15 s, backoff 2 */
        lockRetry: z
          .object({
            maxAttempts: z.number().int().min(0).max(10).default(4),
            intervalSeconds: z.number().int().min(1).default(15),
            backoffRate: z.number().min(1).max(10).default(2),
          })
          .strict()
          .default({ maxAttempts: 4, intervalSeconds: 15, backoffRate: 2 }),
        /** Per-migration defaults (PGSHIFT_LOCK_TIMEOUT / PGSHIFT_STATEMENT_TIMEOUT). @default "5s" / "13min" */
        lockTimeout: z.string().min(1).default('5s'),
        statementTimeout: z.string().min(1).default('13min'),
        /**
         * The migrate function's timeout: apply/downgrade on Lambda stop between migrations before it (and the state
         * machine continues on Fargate); pre-flight sends longer runs to Fargate. @default 900 (Lambda's maximum)
         */
        migrateTimeoutSeconds: z.number().int().min(30).max(900).default(900),
        /** pg_dump compression (PGSHIFT_BACKUP_COMPRESSION). @default "1" */
        backupCompression: z.string().min(1).default('1'),
        /**
         * Reserved concurrency of migrate and restore: `true` reserves 1, a number that many. Off by default: new
         * accounts (concurrency quota 10 or 50) refuse any reservation, and concurrent runs are already refused by
         * `Validate input` (running executions) and apply's advisory lock. @default false (unreserved)
         */
        reservedConcurrency: z.union([z.boolean(), z.number().int().min(1)]).default(false),
      })
      .strict()
      .default({
        executionTimeoutMinutes: 240,
        durationWarningMinutes: 60,
        fargateThresholdBytes: 10 * 1024 ** 3,
        lockRetry: { maxAttempts: 4, intervalSeconds: 15, backoffRate: 2 },
        lockTimeout: '5s',
        statementTimeout: '13min',
        migrateTimeoutSeconds: 900,
        backupCompression: '1',
        reservedConcurrency: false,
      }),
    fargate: z
      .object({
        /** Task CPU units. @default 1024 */
        cpu: z
          .union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)])
          .default(1024),
        /** Task memory (MiB). @default 4096 */
        memoryMiB: z.number().int().min(512).max(30720).default(4096),
        /** The Fargate state's timeout. @default 720 (12 h) */
        timeoutMinutes: z.number().int().min(5).default(720),
        /**
         * The task's ephemeral storage (GiB, Fargate's 21–200): a parallel restore (`restoreJobs`) downloads the
         * dump there first and needs its size plus 512 MiB free. @default 21
         */
        ephemeralStorageGiB: z.number().int().min(21).max(200).default(21),
      })
      .strict()
      .default({ cpu: 1024, memoryMiB: 4096, timeoutMinutes: 720, ephemeralStorageGiB: 21 }),
    alerts: z
      .object({
        emails: z.array(z.email()).default([]),
        /** AWS Chatbot (the workspace must be authorized once in the Chatbot console). @default none */
        slack: z
          .object({
            workspaceId: z.string().regex(/^[A-Z0-9]+$/),
            channelId: z.string().regex(/^[A-Z0-9]+$/),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ emails: [] }),
    maintenanceWindows: z.array(maintenanceWindowSchema).default([]),
    /** CI integration (docs/ci.md). @default none */
    ci: z
      .object({
        /** The IAM role GitHub Actions assumes (lib/github-ci-role.ts). @default no role */
        githubOidc: githubOidcSchema.optional(),
      })
      .strict()
      .default({}),

    /** CloudWatch Logs retention of functions, task and state machine. @default 90 */
    logRetentionDays: z
      .number()
      .int()
      .refine((d) => LOG_RETENTION_DAYS.some((days) => days === d), {
        message: `must be one of ${LOG_RETENTION_DAYS.join(', ')}`,
      })
      .default(90),
  })
  .strict();

export type PgshiftContext = z.infer<typeof pgshiftContextSchema>;
export type MaintenanceWindowContext = PgshiftContext['maintenanceWindows'][number];

/** Validates the `pgshift` context; lists every problem in one error naming the field. */
export function parsePgshiftContext(raw: unknown): PgshiftContext {
  const value: unknown = typeof raw === 'string' ? JSON.parse(raw) : raw;
  const parsed = pgshiftContextSchema.safeParse(value ?? {});
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `pgshift.${i.path.map(String).join('.')}: ${i.message}`);
    throw new Error(`Invalid cdk.json context:\n  - ${problems.join('\n  - ')}`);
  }
  return parsed.data;
}

/** Sample values that synthesize offline (docs/deploy.md): replace them before deploying. */
export const SAMPLE_CONTEXT = {
  databaseName: 'app',
  database: {
    secretArn:
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!db-0123abcd-4567-89ef-0123-456789abcdef-AbCdEf',
    host: 'app-db.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com',
    port: 5432,
    name: 'app',
    sslMode: 'verify-full',
  },
  network: {
    vpcId: 'vpc-0123456789abcdef0',
    subnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    securityGroupId: 'sg-0123456789abcdef0',
  },
  migrationsDir: 'examples/migrations',
} as const;
