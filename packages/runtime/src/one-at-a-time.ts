/**
 * Runs the tasks given for one key one after another, and tasks of different
 * keys side by side. The database uses it where a transaction locks a host's
 * row (a limit checked under the lock): without it, parallel requests for one
 * host would each take a pool connection only to wait for that lock, and a
 * single host could hold the whole pool. The row lock still decides between
 * processes; this only keeps one process's waiters off the pool.
 */
export function oneAtATimePerKey<K>(): <T>(key: K, task: () => Promise<T>) => Promise<T> {
  /** Each key's last task, settled or not; a key leaves when its last task ends. */
  const tails = new Map<K, Promise<unknown>>();
  return <T>(key: K, task: () => Promise<T>): Promise<T> => {
    const before = tails.get(key) ?? Promise.resolve();
    const run = before.then(task, task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    tails.set(key, tail);
    void tail.then(() => {
      if (tails.get(key) === tail) tails.delete(key);
    });
    return run;
  };
}
