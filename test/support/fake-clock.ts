import type { Clock } from '@mydns/runtime';

/**
 * A Clock for fast tests: time moves only when the test says so, and every
 * sleeper wakes at its exact time, in order, so a backoff of minutes runs in
 * microseconds and the same every time.
 */
export interface FakeClock extends Clock {
  /** Moves time on by `ms`, waking each sleeper at its time and letting the code it wakes run. */
  advance(ms: number): Promise<void>;
  /** Lets the code that can run now run (promise chains of in-memory fakes), without moving time. */
  settle(): Promise<void>;
  /** The times the current sleepers wake at, soonest first. */
  wakeups(): number[];
}

interface Sleeper {
  readonly at: number;
  readonly order: number;
  readonly wake: () => void;
}

export function createFakeClock(start = 0): FakeClock {
  let now = start;
  let order = 0;
  const sleepers = new Set<Sleeper>();
  // Everything the fakes do is promise chains: they have all run once a macrotask comes round.
  const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
  const soonest = () =>
    [...sleepers].sort((a, b) => a.at - b.at || a.order - b.order)[0] as Sleeper | undefined;
  const after = (ms: number, fire: () => void) => {
    const sleeper: Sleeper = {
      at: now + Math.max(0, ms),
      order: order++,
      wake: () => {
        sleepers.delete(sleeper);
        fire();
      },
    };
    sleepers.add(sleeper);
    return () => {
      sleepers.delete(sleeper);
    };
  };
  return {
    now: () => now,
    sleep(ms, options = {}) {
      const { signal } = options;
      return new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const woken = () => {
          cancel();
          signal?.removeEventListener('abort', woken);
          resolve();
        };
        const cancel = after(ms, woken);
        signal?.addEventListener('abort', woken, { once: true });
      });
    },
    after,
    async advance(ms) {
      const until = now + ms;
      await settle();
      for (let next = soonest(); next && next.at <= until; next = soonest()) {
        now = next.at;
        next.wake();
        await settle();
      }
      now = until;
      await settle();
    },
    settle,
    wakeups: () => [...sleepers].map((sleeper) => sleeper.at).sort((a, b) => a - b),
  };
}
