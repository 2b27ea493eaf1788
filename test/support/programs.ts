import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one way the tests run programs: to their end (runProgram) or in the
 * background (startProgram). Each runs in a process group of its own, so a
 * timeout or a stop reaches whatever it started too (certbot's hooks, tsx's
 * node), always by PID; nothing outlives the test process.
 */

/**
 * The path of a program the tests run for real (ddclient, inadyn, swaks,
 * certbot …), looked up on PATH and in the sbin folders. A missing one is a
 * failure naming the Debian package to install, never a skip.
 */
export function requireProgram(name: string, debianPackage: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here
    }
  }
  throw new Error(
    `${name} is not installed: these tests run the real program. Install it: apt-get install --no-install-recommends ${debianPackage}`,
  );
}

export interface ProgramOptions {
  readonly cwd?: string;
  /** The program's whole environment (default: this process's). */
  readonly env?: NodeJS.ProcessEnv;
}

export interface RunOptions extends ProgramOptions {
  /** Written to its stdin, which is then closed; without it, stdin is empty. */
  readonly input?: string;
  /** At this deadline (default 60 s) its process group is killed and the run fails. */
  readonly timeoutMs?: number;
  /** Fail (with its output) unless it exits 0. */
  readonly mustSucceed?: boolean;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The command, its stdout, stderr and exit, for assertion messages. */
  readonly output: string;
}

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

function send(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** Signals `pid`'s whole process group (it leads one: spawned detached), or `pid` if the group is gone. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    send(pid, signal);
  }
}

function launch(command: string, args: readonly string[], options: ProgramOptions, stdin: 'ignore' | 'pipe') {
  return spawn(command, [...args], {
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    env: options.env ?? process.env,
    stdio: [stdin, 'pipe', 'pipe'],
    detached: true,
  });
}

/** Runs a program to its end; rejects if it cannot start or does not end within the timeout (or, with `mustSucceed`, exits non-zero). */
export function runProgram(
  command: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = launch(command, args, options, options.input === undefined ? 'ignore' : 'pipe');
    if (options.input !== undefined) child.stdin?.end(options.input);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
    }, timeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const out = Buffer.concat(stdout).toString('utf8');
      const err = Buffer.concat(stderr).toString('utf8');
      const output = `$ ${command} ${args.join(' ')}\n--- stdout ---\n${out}--- stderr ---\n${err}--- exit ${code ?? signal} ---`;
      if (timedOut) {
        reject(new Error(`${command} did not finish within ${timeoutMs} ms\n${output}`));
        return;
      }
      if (process.env.TEST_LOG) console.error(output);
      if (options.mustSucceed && code !== 0) {
        reject(new Error(`${command} failed\n${output}`));
        return;
      }
      resolve({ code, signal, stdout: out, stderr: err, output });
    });
  });
}

export interface StartedProgram {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves when it has exited, with how. */
  readonly exited: Promise<Exit>;
  hasExited(): boolean;
  /** What it printed so far, stdout and stderr as they came (the last 200 kB). */
  output(): string;
  /** Sends `signal` to the program itself (not its group). */
  signal(signal: NodeJS.Signals): void;
  /**
   * SIGTERM (or `signal`) to the program; if it has not exited after
   * `timeoutMs` (default 10 s), SIGKILL to its whole group. Resolves with how it exited.
   */
  stop(options?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<Exit>;
}

const started = new Set<StartedProgram>();
// If the test process ends without its `after` hooks (a timeout, a crash), take the programs along.
process.once('exit', () => {
  for (const program of started) signalGroup(program.pid, 'SIGKILL');
});

/**
 * Starts a program in the background; `onOutput` sees each chunk it prints,
 * `onLine` each whole line of stdout or stderr (never two streams' pieces mixed).
 * `output()` keeps only the last 200,000 characters.
 */
export function startProgram(
  command: string,
  args: readonly string[],
  options: ProgramOptions & { onOutput?: (text: string) => void; onLine?: (line: string) => void } = {},
): StartedProgram {
  const child = launch(command, args, options, 'ignore');
  let text = '';
  const lineCollector = () => {
    let partial = '';
    return (piece: string) => {
      if (!options.onLine) return;
      const lines = (partial + piece).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) options.onLine(line);
    };
  };
  const collect = (lines: (piece: string) => void) => (chunk: Buffer) => {
    const piece = chunk.toString('utf8');
    text = (text + piece).slice(-200_000);
    options.onOutput?.(piece);
    lines(piece);
  };
  child.stdout?.on('data', collect(lineCollector()));
  child.stderr?.on('data', collect(lineCollector()));
  let gone = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => {
      text += error.message;
      resolve({ code: null, signal: null });
    });
  });
  const pid = child.pid ?? -1;
  const program: StartedProgram = {
    pid,
    child,
    exited,
    hasExited: () => gone,
    output: () => text,
    signal(signal) {
      if (!gone && pid > 0) send(pid, signal);
    },
    async stop({ signal = 'SIGTERM', timeoutMs = 10_000 } = {}) {
      if (!gone && pid > 0) {
        // A stopped (SIGSTOP) program cannot act on SIGTERM.
        send(pid, 'SIGCONT');
        send(pid, signal);
        const timer = sleep(timeoutMs, 'timeout' as const, { ref: false });
        if ((await Promise.race([exited, timer])) === 'timeout') signalGroup(pid, 'SIGKILL');
      }
      return exited;
    },
  };
  void exited.then(() => {
    gone = true;
    started.delete(program);
  });
  if (pid > 0) started.add(program);
  return program;
}
