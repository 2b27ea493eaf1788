/**
 * Time as a dependency: services that wait (the zone writer's backoff, a
 * request's push deadline) take a Clock through their factory, so fast tests
 * drive them with a fake one instead of sleeping (fakes enter, like every
 * dependency, through factory arguments).
 */
export interface Clock {
  /** Milliseconds since the epoch, as Date.now(). */
  now(): number;
  /**
   * Resolves after `ms`, or as soon as `signal` aborts (it never rejects: the
   * caller looks at the signal). `keepAlive: false` lets the process exit
   * while the wait is pending, as an unref'd timer does.
   */
  sleep(ms: number, options?: { signal?: AbortSignal; keepAlive?: boolean }): Promise<void>;
  /**
   * Calls `fire` after `ms` unless the returned cancel is called first: a
   * plain timer, for a wait that nearly always ends early (a request's push
   * deadline), where a signal and its listeners would cost more than the wait.
   */
  after(ms: number, fire: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  // A plain timer and an abort listener: timers/promises would build an
  // AbortError (a stack trace) for every aborted wait, and every update
  // request aborts one (its push deadline).
  sleep: (ms, options = {}) =>
    new Promise<void>((resolve) => {
      const { signal } = options;
      if (signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      if (options.keepAlive === false) timer.unref();
      signal?.addEventListener('abort', done, { once: true });
    }),
  after: (ms, fire) => {
    const timer = setTimeout(fire, ms);
    return () => clearTimeout(timer);
  },
};
