/** Peak RSS of a process and all its descendants, sampled from /proc (Linux), for benchmarks. */
import { readdirSync, readFileSync } from 'node:fs';

/** RSS in bytes of `rootPid` and every process below it, right now. */
export function rssOfTree(rootPid: number): number {
  const children = new Map<number, number[]>();
  const rss = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      const pages = Number(fields[21]);
      const pid = Number(name);
      rss.set(pid, pages * 4096);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // the process ended while we looked
    }
  }
  let total = 0;
  const stack = [rootPid];
  while (stack.length) {
    const pid = stack.pop() as number;
    total += rss.get(pid) ?? 0;
    stack.push(...(children.get(pid) ?? []));
  }
  return total;
}

/** Samples the tree's RSS every `everyMs` until stopped; `stop()` returns the peak in bytes. */
export function samplePeakRss(rootPid: number, everyMs = 20): { stop: () => number } {
  let peak = 0;
  const timer = setInterval(() => {
    peak = Math.max(peak, rssOfTree(rootPid));
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}

/** Busy CPU time of the whole machine so far, in ms (all cores; /proc/stat minus idle and iowait). */
export function machineBusyMs(): number {
  const [line = ''] = readFileSync('/proc/stat', 'utf8').split('\n');
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return ((total - idle) * 1000) / 100;
}
