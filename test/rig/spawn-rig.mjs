// Starts rig-server.mjs as a child process and resolves with its description once it is serving.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** @returns {Promise<{ info: object, stop: () => Promise<void> }>} */
export function spawnRig({ timeoutMs = 120000 } = {}) {
  const child = spawn(process.execPath, [join(here, 'rig-server.mjs')], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`rig did not start within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`rig exited with ${code} before it was ready: ${stderr}`));
    });
    child.stdout.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      const info = JSON.parse(out.slice(0, nl));
      child.removeAllListeners('exit');
      resolve({
        info,
        pid: child.pid,
        stop: () =>
          new Promise((res) => {
            if (child.exitCode !== null) return res();
            child.on('exit', () => res());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
