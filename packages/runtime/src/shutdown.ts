import { faultFields } from './errors.ts';
import type { Logger } from './logger.ts';

export interface Shutdown {
  /**
   * Registers a step; steps run in reverse order of registration (last
   * started, first stopped). `kill` is what an exit that cannot wait does
   * instead, synchronously (for a child process: SIGKILL).
   */
  add(name: string, step: () => Promise<void> | void, kill?: () => void): void;
  /** Runs every step once; later calls wait for the first. */
  run(reason: string): Promise<void>;
  /** Runs every registered `kill` now. */
  kill(): void;
  /**
   * SIGINT and SIGTERM run the steps and exit; the same signal repeated within
   * `repeatWindowMs` is the same request; one after that kills and exits at
   * once. Any exit of the process kills what is still running.
   */
  installSignalHandlers(options?: SignalOptions): void;
}

export interface SignalOptions {
  exit?: (code: number) => void;
  repeatWindowMs?: number;
  now?: () => number;
}

/**
 * Ctrl-C in a terminal signals the whole foreground process group, and npm
 * passes the signal on to its child once more (as tsx does to its own): one
 * Ctrl-C reaches us two or three times within milliseconds. Only a signal
 * this long after the first is a person asking again.
 */
export const REPEAT_WINDOW_MS = 3000;

export function createShutdown(logger: Logger): Shutdown {
  const steps: { name: string; step: () => Promise<void> | void; kill?: () => void }[] = [];
  let running: Promise<void> | undefined;
  const shutdown: Shutdown = {
    add(name, step, kill) {
      steps.push({ name, step, ...(kill ? { kill } : {}) });
    },
    run(reason) {
      running ??= (async () => {
        logger.info(`stopping (${reason})`);
        for (const { name, step } of [...steps].reverse()) {
          try {
            await step();
            logger.debug(`stopped ${name}`);
          } catch (error) {
            logger.error(`stopping ${name} failed`, faultFields(error));
          }
        }
      })();
      return running;
    },
    kill() {
      for (const { name, kill } of [...steps].reverse()) {
        try {
          kill?.();
        } catch (error) {
          logger.error(`killing ${name} failed`, { error: (error as Error).message });
        }
      }
    },
    installSignalHandlers(options = {}) {
      const onSignal = createSignalHandler(shutdown, logger, options);
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      // An exit by any other way (an uncaught exception, process.exit) takes the children along.
      process.once('exit', () => shutdown.kill());
    },
  };
  return shutdown;
}

/** What installSignalHandlers does with each signal (exported for its tests). */
export function createSignalHandler(
  shutdown: Shutdown,
  logger: Logger,
  options: SignalOptions = {},
): (signal: NodeJS.Signals) => void {
  const exit = options.exit ?? ((code) => process.exit(code));
  const windowMs = options.repeatWindowMs ?? REPEAT_WINDOW_MS;
  const now = options.now ?? Date.now;
  let firstAt: number | undefined;
  return (signal) => {
    const at = now();
    if (firstAt === undefined) {
      firstAt = at;
      void shutdown.run(signal).then(() => exit(0));
      return;
    }
    if (at - firstAt < windowMs) {
      logger.debug(`${signal} again ${at - firstAt} ms after the first: the same stop request`);
      return;
    }
    logger.warn(`${signal} again: stopping at once, without waiting (child processes are killed)`);
    shutdown.kill();
    exit(130);
  };
}
