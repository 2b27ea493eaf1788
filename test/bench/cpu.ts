import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time of the programs this benchmark started, from /proc: Postgres (all
 * its processes), pdns_server, each API (a tsx process and its node child),
 * and this process (the load generator). Deltas of two snapshots say where a
 * measured stretch spent the machine's CPU.
 */
export type CpuSnapshot = Map<number, { readonly comm: string; readonly ppid: number; readonly ms: number }>;

/** Clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

export function snapshotCpu(): CpuSnapshot {
  const snapshot: CpuSnapshot = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // The command is in parentheses and may hold spaces; the fields after it are plain.
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const fields = stat.slice(close + 2).split(' ');
      // After the command: state (3), ppid (4) … utime (14), stime (15), 1-based as in proc(5).
      const ppid = Number(fields[1]);
      const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
      snapshot.set(Number(entry), { comm, ppid, ms });
    } catch {
      // the process ended meanwhile
    }
  }
  return snapshot;
}

/** CPU ms between two snapshots of the process `root` and everything under it (e.g. tsx and its node). */
export function treeCpuMs(before: CpuSnapshot, after: CpuSnapshot, root: number): number {
  let ms = 0;
  for (const pid of descendants(after, root)) ms += (after.get(pid)?.ms ?? 0) - (before.get(pid)?.ms ?? 0);
  return ms;
}

function descendants(snapshot: CpuSnapshot, root: number): Set<number> {
  const found = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, process] of snapshot) {
      if (!found.has(pid) && found.has(process.ppid)) {
        found.add(pid);
        grew = true;
      }
    }
  }
  return found;
}

/**
 * CPU ms between two snapshots, by program: `api` (the tree under `apiPid`),
 * `postgres`, `pdns_server`, `load generator` (this process), and `other
 * MyDNS` (anything else this benchmark started, e.g. an idle second API).
 * Processes of other users of the machine are not counted.
 */
export function cpuBetween(before: CpuSnapshot, after: CpuSnapshot, apiPid: number): Map<string, number> {
  const mine = descendants(after, process.pid);
  const api = descendants(after, apiPid);
  const totals = new Map<string, number>();
  for (const pid of mine) {
    const now = after.get(pid);
    if (!now) continue;
    const spent = now.ms - (before.get(pid)?.ms ?? 0);
    const program =
      pid === process.pid
        ? 'load generator'
        : api.has(pid)
          ? 'api'
          : now.comm === 'postgres' || now.comm === 'pdns_server'
            ? now.comm
            : 'other MyDNS';
    totals.set(program, (totals.get(program) ?? 0) + spent);
  }
  return totals;
}
