import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Supervised } from './processes.ts';

/**
 * A child process that is started again when it dies (a `kill -9`, an OOM
 * kill, a crash): what `npm start` does for the embedded Postgres and the
 * managed pdns_server, so that DNS and updates come back without a person.
 * Restarts wait with backoff (0.5 s, doubling up to 30 s; back to 0.5 s once
 * the process has stayed up for a minute), so a program that cannot start is
 * not restarted in a tight loop. A stop we ask for is never "restarted".
 */

/**
 * `up`: serving; `restarting`: it died and is being started again; `exited`:
 * it died and is not restarted (`restart: false`); `stopped`: we stopped it.
 */
export type ChildStatus = 'up' | 'restarting' | 'exited' | 'stopped';

export interface Backoff {
  readonly initialMs: number;
  readonly maxMs: number;
  /** Up this long, a process that dies is restarted after `initialMs` again. */
  readonly resetAfterMs: number;
}

export const RESTART_BACKOFF: Backoff = { initialMs: 500, maxMs: 30_000, resetAfterMs: 60_000 };

export interface KeepRunningOptions {
  /** The program, as log lines name it ("postgres", "pdns_server"). */
  name: string;
  logger: Logger;
  /** Starts the program, the same way every time (same ports, same data). */
  spawn: () => Supervised;
  /** Resolves once the program serves; rejects if it does not. */
  ready: (child: Supervised) => Promise<void>;
  /** How `stop()` asks the program to end, and how long it gets before SIGKILL. */
  stopSignal: NodeJS.Signals;
  stopTimeoutMs: number;
  /** False: an unexpected exit is only logged (tests that kill a server on purpose). Default true. */
  restart?: boolean;
  backoff?: Backoff;
  /** Called each time a restarted program serves again. */
  onRestart?: () => void;
}

export interface KeptRunning {
  /** The PID of the current process (a new one after each restart). */
  readonly pid: number;
  status(): ChildStatus;
  /** Stops the program for good (no restart) and waits for it to exit. */
  stop(): Promise<void>;
  /** For an exit that cannot wait: no more restarts, SIGKILL now. */
  kill(): void;
}

/** Starts the program, waits until it serves (or throws), and restarts it whenever it dies. */
export async function keepRunning(options: KeepRunningOptions): Promise<KeptRunning> {
  const log = options.logger.child({ component: options.name });
  const backoff = options.backoff ?? RESTART_BACKOFF;
  const stopping = new AbortController();
  let current = options.spawn();
  try {
    await options.ready(current);
  } catch (error) {
    await current.stop('SIGKILL');
    throw error;
  }
  let status: ChildStatus = 'up';
  let upSince = Date.now();
  let delayMs = backoff.initialMs;
  let restarting: Promise<void> | undefined;

  const restart = async (exitedAt: number): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      try {
        await sleep(delayMs, undefined, { signal: stopping.signal });
      } catch {
        return; // stopped while waiting
      }
      delayMs = Math.min(delayMs * 2, backoff.maxMs);
      const child = options.spawn();
      current = child;
      try {
        await options.ready(child);
      } catch (error) {
        await child.stop('SIGKILL');
        if (stopping.signal.aborted) return;
        log.error(
          `restarting ${options.name} failed (attempt ${attempt}), trying again in ${delayMs} ms: ${errorMessage(error)}`,
        );
        continue;
      }
      if (stopping.signal.aborted) return; // stop() ends `current`
      status = 'up';
      upSince = Date.now();
      log.info(`${options.name} is back (pid ${child.pid}), ${Date.now() - exitedAt} ms after it exited`);
      watch(child);
      options.onRestart?.();
      return;
    }
  };

  const watch = (child: Supervised) => {
    void child.exited.then(() => {
      if (stopping.signal.aborted || child !== current) return;
      if (options.restart === false) {
        status = 'exited';
        log.error(
          `${options.name} exited unexpectedly (${child.describeExit() ?? 'unknown'}, pid ${child.pid})`,
        );
        return;
      }
      if (Date.now() - upSince >= backoff.resetAfterMs) delayMs = backoff.initialMs;
      status = 'restarting';
      log.error(
        `${options.name} exited unexpectedly (${child.describeExit() ?? 'unknown'}, pid ${child.pid}); restarting in ${delayMs} ms`,
      );
      restarting = restart(Date.now()).finally(() => {
        restarting = undefined;
      });
    });
  };
  watch(current);

  return {
    get pid() {
      return current.pid;
    },
    status: () => status,
    async stop() {
      stopping.abort();
      status = 'stopped';
      // A process being restarted right now is `current` too: stopping it fails its start.
      await current.stop(options.stopSignal, options.stopTimeoutMs);
      await restarting;
      await current.stop(options.stopSignal, options.stopTimeoutMs);
    },
    kill() {
      stopping.abort();
      status = 'stopped';
      current.kill();
    },
  };
}
