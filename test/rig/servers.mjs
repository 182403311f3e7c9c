// The local stand-ins pgshift runs against: a throwaway PostgreSQL cluster (Debian's server and the matching
// pg_dump/pg_restore/psql) and fauxqs (S3 + SNS/SQS) on random loopback ports.
//
// Plain ESM on purpose: fauxqs is ESM-only, and this module is shared by jest's global setup, `npm start`
// and the benchmarks, which all run it in a child process (rig-server.mjs) so that heavy S3 traffic never
// competes with the test runner's event loop.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const RIG_BUCKET = 'pgshift-local';
export const RIG_TOPIC = 'pgshift-alerts';
export const RIG_SPY_QUEUE = 'pgshift-alerts-spy';
export const RIG_REGION = 'us-east-1';
export const TEMPLATE_DATABASE = 'pgshift_template';

/** Finds PostgreSQL's server binaries: $PGSHIFT_PG_BIN, else the newest Debian major under /usr/lib/postgresql. */
export function findPgBin() {
  if (process.env.PGSHIFT_PG_BIN) {
    const dir = process.env.PGSHIFT_PG_BIN;
    if (!existsSync(join(dir, 'initdb'))) throw new Error(`PGSHIFT_PG_BIN=${dir} has no initdb`);
    return dir;
  }
  const root = '/usr/lib/postgresql';
  const majors = existsSync(root)
    ? readdirSync(root)
        .filter((d) => existsSync(join(root, d, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (majors.length === 0) {
    throw new Error(
      'No PostgreSQL server found under /usr/lib/postgresql. Install it with `sudo apt-get install -y postgresql` ' +
        '(or run `bash .ci/install`), or point PGSHIFT_PG_BIN at a bin directory with initdb, postgres and pg_dump.',
    );
  }
  return join(root, majors[0], 'bin');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** initdb and postgres refuse to run as root: run them as the `postgres` user, with a data dir it owns. */
function asServerUser(cmd, args, opts = {}) {
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const res = spawnSync(file, argv, { encoding: 'utf8', ...opts });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.status}): ${res.stderr || res.stdout}`);
  }
  return res.stdout;
}

function ownByServerUser(path) {
  if (!isRoot) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  chownSync(path, uid, gid);
}

/**
 * Makes a CA and a server certificate for 127.0.0.1/localhost with openssl, so the rig serves TLS and clients can
 * use sslmode=verify-full exactly as they do against RDS. Returns undefined where openssl is missing.
 */
function makeTlsFiles(dir) {
  if (spawnSync('openssl', ['version']).status !== 0) return undefined;
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=pgshift-rig-ca',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
  ]);
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.crt',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'san.ext',
    '-out',
    'server.crt',
  ]);
  chmodSync(join(dir, 'server.key'), 0o600);
  for (const f of ['server.key', 'server.crt', 'ca.crt']) ownByServerUser(join(dir, f));
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/** initdb with the superuser's password; a persistent cluster also keeps the password for its next start. */
async function initCluster(bin, dir, dataDir, password) {
  const pwFile = join(dir, 'pwfile');
  writeFileSync(pwFile, password + '\n', { mode: 0o600 });
  ownByServerUser(pwFile);
  asServerUser(join(bin, 'initdb'), [
    '-D',
    dataDir,
    '-U',
    'postgres',
    '--pwfile',
    pwFile,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '--encoding=UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  rmSync(pwFile);
  writeFileSync(join(dir, 'password'), password + '\n', { mode: 0o600 });
}

/** The TLS files a persistent cluster made on its first start (undefined when it has none). */
function tlsFilesIn(dir) {
  if (!existsSync(join(dir, 'ca.crt'))) return undefined;
  return { caFile: join(dir, 'ca.crt'), certFile: join(dir, 'server.crt'), keyFile: join(dir, 'server.key') };
}

/**
 * Starts a throwaway cluster: fsync off, its own socket dir, password auth over TCP (so a wrong password really
 * fails), TLS when openssl is present. Returns connection facts and a stop function.
 */
export async function startPostgres({ port, baseDir, persistentDir } = {}) {
  const bin = findPgBin();
  // A persistent cluster (benchmarks: a 1 GB database is generated once and kept) is reused as it was left.
  const reuse = persistentDir !== undefined && existsSync(join(persistentDir, 'data', 'PG_VERSION'));
  const dir = persistentDir ?? mkdtempSync(join(baseDir ?? tmpdir(), 'pgshift-pg-'));
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  ownByServerUser(dir);
  const dataDir = join(dir, 'data');
  const socketDir = join(dir, 'sock');
  mkdirSync(socketDir, { recursive: true });
  ownByServerUser(socketDir);
  const password = reuse
    ? readFileSync(join(dir, 'password'), 'utf8').trim()
    : randomBytes(12).toString('hex');
  if (!reuse) await initCluster(bin, dir, dataDir, password);
  const tls = reuse ? tlsFilesIn(dir) : makeTlsFiles(dir);
  const pgPort = port ?? (await freePort());
  const opts = [
    `-c port=${pgPort}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${socketDir}`,
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    '-c shared_buffers=256MB',
    '-c max_wal_size=4GB',
    '-c log_min_messages=warning',
  ];
  if (tls) opts.push('-c ssl=on', `-c ssl_cert_file=${tls.certFile}`, `-c ssl_key_file=${tls.keyFile}`);
  asServerUser(join(bin, 'pg_ctl'), [
    '-D',
    dataDir,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    '-o',
    opts.join(' '),
    'start',
  ]);
  // A template with pgshift's usual extensions-free starting point: tests clone it (CREATE DATABASE ... TEMPLATE).
  if (!reuse)
    asServerUser(join(bin, 'psql'), [
      '-h',
      socketDir,
      '-p',
      String(pgPort),
      '-U',
      'postgres',
      '-d',
      'postgres',
      '-v',
      'ON_ERROR_STOP=1',
      '-c',
      `CREATE DATABASE ${TEMPLATE_DATABASE}`,
    ]);
  const url = (database = 'postgres') =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/${encodeURIComponent(database)}`;
  let stopped = false;
  return {
    bin,
    dir,
    host: '127.0.0.1',
    port: pgPort,
    user: 'postgres',
    password,
    socketDir,
    caFile: tls?.caFile,
    databaseUrl: url(),
    serverLog: join(dir, 'server.log'),
    stop() {
      if (stopped) return;
      stopped = true;
      try {
        asServerUser(join(bin, 'pg_ctl'), [
          '-D',
          dataDir,
          '-m',
          persistentDir ? 'fast' : 'immediate',
          '-w',
          'stop',
        ]);
      } finally {
        if (!persistentDir) rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Starts fauxqs on loopback with the bucket, topic and a spy queue subscribed to the topic. */
export async function startObjectStore({ port = 0 } = {}) {
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port, host: '127.0.0.1', logger: false, defaultRegion: RIG_REGION });
  server.createBucket(RIG_BUCKET);
  const { topicArn } = server.createTopic(RIG_TOPIC);
  const { queueUrl } = server.createQueue(RIG_SPY_QUEUE);
  server.subscribe({ topic: RIG_TOPIC, queue: RIG_SPY_QUEUE });
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    bucket: RIG_BUCKET,
    topicArn,
    spyQueueUrl: queueUrl,
    region: RIG_REGION,
    stop: () => server.stop(),
  };
}

/** Both stand-ins; `describe()` is what rig-server.mjs prints and what tests read from PGSHIFT_RIG. */
export async function startRig(options = {}) {
  const store = await startObjectStore(options);
  let pg;
  try {
    pg = await startPostgres(options);
  } catch (err) {
    await store.stop();
    throw err;
  }
  return {
    pg,
    store,
    describe: () => ({
      databaseUrl: pg.databaseUrl,
      pg: {
        host: pg.host,
        port: pg.port,
        user: pg.user,
        password: pg.password,
        bin: pg.bin,
        socketDir: pg.socketDir,
        caFile: pg.caFile,
        serverLog: pg.serverLog,
        templateDatabase: TEMPLATE_DATABASE,
      },
      s3: { endpoint: store.endpoint, bucket: store.bucket, region: store.region },
      sns: { endpoint: store.endpoint, topicArn: store.topicArn, spyQueueUrl: store.spyQueueUrl },
    }),
    async stop() {
      try {
        pg.stop();
      } finally {
        await store.stop();
      }
    },
  };
}
