import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * `npm start` as a separate process, the way a person runs it: through npm
 * (`via: 'npm'`, in a process group of its own as a terminal would make it),
 * or as the single node process npm ends up running (`via: 'node'`, so that
 * the PID is MyDNS itself). Plus what the tests look at afterwards: the PIDs
 * of the children it manages and which processes are still running.
 */

export const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface StartedMyDns {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Everything it printed (stdout and stderr). */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
}

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
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    // A terminal puts the command in a process group of its own and sends Ctrl-C to all of it.
    detached: via === 'npm',
  });
  if (child.pid === undefined) throw new Error(`could not start ${command}`);
  let text = '';
  const collect = (chunk: Buffer) => {
    text += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => {
      gone = true;
      done({ code, signal });
    }),
  );
  return { child, pid: child.pid, output: () => text, exited, hasExited: () => gone };
}

export async function waitForOutput(
  started: StartedMyDns,
  pattern: RegExp,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (pattern.test(started.output())) return;
    if (started.hasExited()) assert.fail(`npm start exited before ${pattern}:\n${started.output()}`);
    await sleep(50);
  }
  assert.fail(`npm start did not print ${pattern}:\n${started.output()}`);
}

/** Polls `check` until it is true; fails with `what` after `timeoutMs`. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await Promise.resolve(check()).catch(() => false)) return;
    await sleep(intervalMs);
  }
  assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
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
