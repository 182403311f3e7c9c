export default async function globalTeardown() {
  const rig = globalThis.__PGSHIFT_RIG__;
  if (!rig) return;
  globalThis.__PGSHIFT_RIG__ = undefined;
  await rig.stop();
}
