#!/usr/bin/env node
// Runs the local rig in its own process: prints one JSON line describing it on stdout, then serves until
// SIGTERM/SIGINT or until its parent goes away (stdin closes), and cleans up either way.
import { startRig } from './servers.mjs';

// PGSHIFT_RIG_PG_DIR keeps the cluster in that directory across runs (benchmarks generate their data once).
const rig = await startRig({ persistentDir: process.env.PGSHIFT_RIG_PG_DIR || undefined });
process.stdout.write(JSON.stringify(rig.describe()) + '\n');

let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  try {
    await rig.stop();
  } catch (err) {
    process.stderr.write(`rig: stop failed: ${err}\n`);
    code = 1;
  }
  process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
// The parent holds our stdin: when it exits, however abruptly, stdin ends and the cluster is removed.
process.stdin.on('end', () => shutdown(0));
process.stdin.on('error', () => shutdown(0));
process.stdin.resume();
