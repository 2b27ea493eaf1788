import { faultFields, type Logger } from '@mydns/runtime';

/**
 * Work that runs after the reply (a password reset's lookup and mail), so the
 * reply cannot tell by its timing what the work found. A failure is logged
 * with its stack; `drain` waits for what is running (shutdown, tests).
 */
export interface BackgroundTasks {
  run(what: string, work: () => Promise<unknown>): void;
  drain(): Promise<void>;
}

export function createBackgroundTasks(logger: Logger): BackgroundTasks {
  const running = new Set<Promise<unknown>>();
  return {
    run(what, work) {
      const task: Promise<unknown> = Promise.resolve()
        .then(work)
        .catch((error: unknown) => logger.error(`${what} failed`, faultFields(error)))
        .finally(() => running.delete(task));
      running.add(task);
    },
    async drain() {
      while (running.size > 0) await Promise.allSettled([...running]);
    },
  };
}
