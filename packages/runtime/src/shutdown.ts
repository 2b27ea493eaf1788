import { faultFields } from './errors.ts';
import type { Logger } from './logger.ts';

export interface Shutdown {
  /** Registers a step; steps run in reverse order of registration (last started, first stopped). */
  add(name: string, step: () => Promise<void> | void): void;
  /** Runs every step once; later calls wait for the first. */
  run(reason: string): Promise<void>;
  /** Ctrl-C and SIGTERM run the steps and exit; a second signal exits at once. */
  installSignalHandlers(exit?: (code: number) => void): void;
}

export function createShutdown(logger: Logger): Shutdown {
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  let running: Promise<void> | undefined;
  const shutdown: Shutdown = {
    add(name, step) {
      steps.push({ name, step });
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
    installSignalHandlers(exit = (code) => process.exit(code)) {
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (signals > 1) {
          logger.warn(`second ${signal}: exiting without waiting`);
          exit(130);
          return;
        }
        void shutdown.run(signal).then(() => exit(0));
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    },
  };
  return shutdown;
}
