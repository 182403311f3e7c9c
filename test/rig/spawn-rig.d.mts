import type { RigInfo } from './servers.d.mts';
export function spawnRig(options?: {
  timeoutMs?: number;
}): Promise<{ info: RigInfo; pid: number; stop: () => Promise<void> }>;
