import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

/**
 * Prefixes whose objects expire after `expireAfterDays` besides backups/: plans, diffs and Fargate task results.
 * schemas/ and reports/ are kept: `schemas/<db>/latest.json` is what `verify` compares the live schema to.
 */
export const EXPIRING_RUN_PREFIXES = ['plans/', 'diffs/', 'runs/'];

/** Object Lock (WORM) retention applied to every new object by default. */
export interface BackupObjectLock {
  /** GOVERNANCE can be lifted by a privileged user; COMPLIANCE cannot, by anyone, until it expires. */
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly days: number;
}

export interface BackupBucketProps {
  /**
   * Removal policy of the bucket, its log bucket and its key.
   * @default RemovalPolicy.RETAIN: backups outlive the stack.
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * Move objects to Glacier Instant Retrieval after this many days (still restorable in milliseconds).
   * @default 30
   */
  readonly glacierAfterDays?: number;
  /** Expire backups (and plans/, diffs/, runs/) after this many days: the retention policy. @default 365 */
  readonly expireAfterDays?: number;
  /** Delete noncurrent versions after this many days. @default 30 */
  readonly noncurrentExpireAfterDays?: number;
  /**
   * Object Lock default retention (only settable when the bucket is created).
   * @default no Object Lock
   */
  readonly objectLock?: BackupObjectLock;
  /** Retention of the server access logs (days). @default 365 */
  readonly accessLogExpireAfterDays?: number;
}

/** Every retention problem in one error: expiry before the move to Glacier, a lock longer than the expiry. */
function refuseInvalidRetention(
  glacierAfterDays: number,
  expireAfterDays: number,
  objectLock: BackupObjectLock | undefined,
): void {
  const problems: string[] = [];
  if (expireAfterDays <= glacierAfterDays) {
    problems.push(
      `expireAfterDays (${expireAfterDays}) must be greater than glacierAfterDays (${glacierAfterDays})`,
    );
  }
  if (objectLock && objectLock.days > expireAfterDays) {
    problems.push(`objectLock.days (${objectLock.days}) exceeds expireAfterDays (${expireAfterDays})`);
  }
  if (problems.length > 0) throw new Error(`BackupBucket: ${problems.join('; ')}`);
}

function objectLockRetention(lock: BackupObjectLock): s3.ObjectLockRetention {
  return lock.mode === 'COMPLIANCE'
    ? s3.ObjectLockRetention.compliance(Duration.days(lock.days))
    : s3.ObjectLockRetention.governance(Duration.days(lock.days));
}

/** Backups to Glacier then expired, run files expired with them, old versions and abandoned uploads removed. */
function backupLifecycleRules(
  glacierAfterDays: number,
  expireAfterDays: number,
  noncurrentExpireAfterDays: number,
): s3.LifecycleRule[] {
  return [
    // Backups move to Glacier Instant Retrieval, then expire: the retention policy.
    {
      id: 'backups-retention',
      prefix: 'backups/',
      transitions: [
        {
          storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
          transitionAfter: Duration.days(glacierAfterDays),
        },
      ],
      expiration: Duration.days(expireAfterDays),
    },
    // What a run works with expires with the backups. schemas/ (schemas/<db>/latest.json is the drift
    // baseline) and reports/ (the record of what changed) are never expired.
    ...EXPIRING_RUN_PREFIXES.map((prefix) => ({
      id: `${prefix.replace(/\/$/, '')}-retention`,
      prefix,
      expiration: Duration.days(expireAfterDays),
    })),
    // Bucket-wide, touching no current object: old versions and abandoned multipart uploads.
    {
      id: 'noncurrent-versions-and-uploads',
      noncurrentVersionExpiration: Duration.days(noncurrentExpireAfterDays),
      abortIncompleteMultipartUploadAfter: Duration.days(2),
    },
  ];
}

/**
 * The bucket for backups, schemas, diffs and reports: SSE-KMS with its own rotating key (and a policy that
 * refuses any other encryption), TLS only, private, versioned, access-logged, with lifecycle and optional
 * Object Lock.
 */
export class BackupBucket extends Construct {
  readonly bucket: s3.Bucket;
  readonly key: kms.Key;
  readonly logBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: BackupBucketProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const glacierAfterDays = props.glacierAfterDays ?? 30;
    const expireAfterDays = props.expireAfterDays ?? 365;
    refuseInvalidRetention(glacierAfterDays, expireAfterDays, props.objectLock);

    this.key = new kms.Key(this, 'Key', {
      description: 'pgshift backups, schemas and reports',
      enableKeyRotation: true,
      removalPolicy,
    });

    // Access logs cannot go to a KMS-encrypted bucket (the logging service does not use the key): SSE-S3.
    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'expire-access-logs',
          expiration: Duration.days(props.accessLogExpireAfterDays ?? 365),
          noncurrentVersionExpiration: Duration.days(30),
        },
      ],
      removalPolicy,
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the server access log bucket; logging it into itself would loop.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 'backups/',
      objectLockEnabled: props.objectLock !== undefined,
      objectLockDefaultRetention: props.objectLock ? objectLockRetention(props.objectLock) : undefined,
      lifecycleRules: backupLifecycleRules(
        glacierAfterDays,
        expireAfterDays,
        props.noncurrentExpireAfterDays ?? 30,
      ),
      removalPolicy,
    });

    this.denyOtherEncryption();
  }

  private denyOtherEncryption(): void {
    // Every object ends up encrypted with this stack's key: without headers the bucket default applies (this key);
    // a request naming SSE-S3 or another KMS key is denied. Each deny applies only when its header is there
    // (`Null: false`): UploadPart and CompleteMultipartUpload carry no encryption headers (CreateMultipartUpload
    // fixed them), and an `...IfExists` operator counts a missing key as a match, which would deny every part.
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyPutWithOtherEncryption',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: {
          Null: { 's3:x-amz-server-side-encryption': 'false' },
          StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
        },
      }),
    );
    this.bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyPutWithOtherKmsKey',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects('*')],
        conditions: {
          Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
          StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': this.key.keyArn },
        },
      }),
    );
  }
}
