// jest globalSetup: one rig per run, shared by the integration and workflow projects. Workers read its
// description from PGSHIFT_RIG (environment variables set here are inherited by the workers).
import { spawnRig } from './spawn-rig.mjs';

export default async function globalSetup() {
  if (globalThis.__PGSHIFT_RIG__) return;
  const rig = await spawnRig();
  globalThis.__PGSHIFT_RIG__ = rig;
  process.env.PGSHIFT_RIG = JSON.stringify(rig.info);
  // Client tools of the server's own major, so pg_dump never meets a newer server by accident.
  process.env.PGSHIFT_PG_BIN ??= rig.info.pg.bin;
  // The SDK must never look for real credentials or a real region in tests.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
  process.env.AWS_REGION ??= rig.info.s3.region;
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}
