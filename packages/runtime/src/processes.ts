import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from './logger.ts';
import { inheritedEnvironment } from './settings.ts';

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The command line of a running process (Linux /proc), or undefined. */
export function readCommandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
}

/** Sends `signal`, waits up to `timeoutMs` for the process to go, then SIGKILLs it. */
export async function stopProcess(pid: number, signal: NodeJS.Signals, timeoutMs: number): Promise<void> {
  if (!isProcessAlive(pid)) return;
  try {
    process.kill(pid, signal);
  } catch {
    return;
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isProcessAlive(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface Supervised {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or null after a signal) when the process ends. */
  readonly exited: Promise<number | null>;
  /** How it ended ("signal SIGKILL", "exit code 1"), once it has. */
  describeExit(): string | undefined;
  /** The last lines the process printed, for error messages. */
  recentOutput(): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<void>;
  /** SIGKILL, synchronously, unless it has already exited: for an exit that cannot wait. */
  kill(): void;
}

export interface SuperviseOptions {
  name: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  uid?: number;
  gid?: number;
  cwd?: string;
  /**
   * Own process group: a Ctrl-C in the terminal reaches only us, so we can stop
   * the children in order (API first, databases last) instead of all at once.
   */
  detached?: boolean;
  /** Called with every output line, e.g. to detect readiness. */
  onLine?: (line: string) => void;
  /**
   * The signal the process gets when we die without stopping it (a SIGKILL,
   * a crash): Linux's parent-death signal, set by util-linux `setpriv` before
   * it runs the program, for programs we cannot change to watch us (Postgres,
   * pdns_server). Without setpriv (not Linux) the process just runs on.
   */
  parentDeathSignal?: NodeJS.Signals;
}

let setprivPath: string | null | undefined;

/** util-linux `setpriv`, if it has `--pdeathsig` (2.33 and later), or undefined. */
function findSetpriv(): string | undefined {
  if (setprivPath === undefined) {
    setprivPath = null;
    if (process.platform === 'linux') {
      for (const path of ['/usr/bin/setpriv', '/bin/setpriv']) {
        const help = spawnSync(path, ['--help'], { encoding: 'utf8', timeout: 5000 });
        if (help.stdout?.includes('--pdeathsig')) {
          setprivPath = path;
          break;
        }
      }
    }
  }
  return setprivPath ?? undefined;
}

/**
 * Starts a child process whose output goes to the debug log, line by line, and
 * whose stop waits for the exit (nothing is left behind: "stop what you start").
 */
export function supervise(command: string, args: readonly string[], options: SuperviseOptions): Supervised {
  const setpriv = options.parentDeathSignal ? findSetpriv() : undefined;
  // setpriv sets the signal, then execs the program: same PID, same command line.
  const [file, argv] =
    setpriv && options.parentDeathSignal
      ? [setpriv, ['--pdeathsig', options.parentDeathSignal, '--', command, ...args]]
      : [command, args];
  const child = spawn(file, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? inheritedEnvironment(),
    ...(options.uid === undefined ? {} : { uid: options.uid }),
    ...(options.gid === undefined ? {} : { gid: options.gid }),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    detached: options.detached ?? true,
  });
  const recent: string[] = [];
  const log = options.logger.child({ component: options.name });
  const onData = (buffer: string) => (chunk: Buffer) => {
    const text = buffer + chunk.toString('utf8');
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > 20) recent.shift();
      log.debug(line);
      options.onLine?.(line);
    }
    return rest;
  };
  let outBuffer = '';
  let errBuffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    outBuffer = onData(outBuffer)(chunk);
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    errBuffer = onData(errBuffer)(chunk);
  });
  let exit: string | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (error) => {
      recent.push(error.message);
      exit = `failed to start: ${error.message}`;
      resolve(null);
    });
    child.once('exit', (code, signal) => {
      exit = signal ? `signal ${signal}` : `exit code ${code}`;
      resolve(code);
    });
  });
  let exitedAlready = false;
  void exited.then(() => {
    exitedAlready = true;
  });
  return {
    child,
    pid: child.pid ?? -1,
    exited,
    describeExit: () => exit,
    recentOutput: () => recent.join('\n'),
    kill() {
      // Node refuses to signal a child it has already reaped, so a reused PID is never hit.
      if (!exitedAlready) child.kill('SIGKILL');
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000) {
      if (exitedAlready || child.pid === undefined) return;
      child.kill(signal);
      const cancel = new AbortController();
      const timer = sleep(timeoutMs, 'timeout' as const, { signal: cancel.signal }).catch(
        () => 'exited' as const,
      );
      const first = await Promise.race([exited, timer]);
      cancel.abort(); // a pending timer would keep the event loop (and the process) alive
      if (first === 'timeout') {
        log.warn(`did not stop within ${timeoutMs} ms; killing it`);
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Polls `check` until it returns true, the process exits, or the time is up. */
export async function waitUntilReady(
  check: () => Promise<boolean>,
  options: { timeoutMs: number; process?: Supervised; what: string },
): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let exited = false;
  void options.process?.exited.then(() => {
    exited = true;
  });
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(`${options.what} exited during startup:\n${options.process?.recentOutput() ?? ''}`);
    }
    if (await check().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(
    `${options.what} was not ready after ${options.timeoutMs} ms:\n${options.process?.recentOutput() ?? ''}`,
  );
}
