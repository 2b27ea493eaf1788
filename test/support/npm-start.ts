import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type StartedProgram, startProgram } from './programs.ts';
import { waitFor } from './wait.ts';

/**
 * `npm start` as a separate process, the way a person runs it: through npm
 * (`via: 'npm'`, in a process group of its own as a terminal would make it),
 * or as the single node process npm ends up running (`via: 'node'`, so that
 * the PID is MyDNS itself). Plus what the tests look at afterwards: the PIDs
 * of the children it manages and which processes are still running.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** A JSON log line of `npm start`. */
export interface LogEntry {
  level: string;
  message: string;
  component?: string;
}

/**
 * A started `npm start`: the one program runner's handle (test/support/programs.ts),
 * plus every error line it logged (all of them, while `output()` keeps only a tail).
 */
export type StartedMyDns = StartedProgram & { errorLines(): readonly LogEntry[] };

export function startMyDnsProcess(
  env: NodeJS.ProcessEnv,
  via: 'npm' | 'node' | 'tsx' = 'node',
): StartedMyDns {
  const [command, args] =
    via === 'npm'
      ? ['npm', ['start', '--silent']]
      : via === 'tsx'
        ? [join(REPO_ROOT, 'node_modules/.bin/tsx'), ['apps/api/src/main.ts']]
        : [process.execPath, ['--import', 'tsx', 'apps/api/src/main.ts']];
  // In a process group of its own, as a terminal makes one, so Ctrl-C can be sent to all of it.
  const errors: LogEntry[] = [];
  const onLine = (line: string) => {
    if (!line.startsWith('{')) return;
    try {
      const entry = JSON.parse(line) as LogEntry;
      if (entry.level === 'error') errors.push(entry);
    } catch {
      // not a log line
    }
  };
  const started = startProgram(command, args, { cwd: REPO_ROOT, env, onLine });
  if (started.pid <= 0) throw new Error(`could not start ${command}`);
  return Object.assign(started, { errorLines: () => errors });
}

export function waitForOutput(started: StartedMyDns, pattern: RegExp, timeoutMs = 60_000): Promise<void> {
  return waitFor(() => pattern.test(started.output()), {
    timeoutMs,
    intervalMs: 50,
    message: () => `npm start to print ${pattern}:\n${started.output()}`,
    giveUp: () => (started.hasExited() ? `npm start exited:\n${started.output()}` : undefined),
  });
}

/** `waitFor` with the message first, as these tests read best. */
export function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  return waitFor(check, { message: what, timeoutMs, intervalMs });
}

/** The PIDs in the data folder: the embedded Postgres's postmaster and the managed pdns_server. */
export function managedPids(dataDir: string): { postgres?: number; pdns?: number } {
  const pids: { postgres?: number; pdns?: number } = {};
  try {
    pids.postgres = Number(readFileSync(join(dataDir, 'postgres/postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    // not running
  }
  try {
    pids.pdns = Number(readFileSync(join(dataDir, 'pdns/pdns_server.pid'), 'utf8').trim());
  } catch {
    // never started
  }
  return pids;
}

interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    // /proc/<pid>/stat: "pid (comm) state ppid pgrp …"; comm may hold spaces, so read after the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const [state = '', ppid = '', pgrp = ''] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
  } catch {
    return undefined;
  }
}

/** Running, that is: it exists and is not a zombie waiting to be reaped. */
export function isRunning(pid: number | undefined): boolean {
  if (pid === undefined || !Number.isInteger(pid) || pid <= 0) return false;
  const stat = readStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Every running process whose process group is `pgid`. */
export function processGroup(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const stat = readStat(pid);
    if (stat?.pgrp === pgid && isRunning(pid)) members.push(pid);
  }
  return members;
}

/** A description of each PID, for failure messages. */
export function describePids(pids: readonly number[]): string {
  return pids
    .map((pid) => {
      try {
        return `${pid}: ${readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim()}`;
      } catch {
        return `${pid}: (gone)`;
      }
    })
    .join('\n');
}

/** Last resort for a failed test: nothing it started may keep running. */
export function killAll(pids: readonly (number | undefined)[]): void {
  for (const pid of pids) {
    if (!isRunning(pid)) continue;
    try {
      process.kill(pid as number, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
}
