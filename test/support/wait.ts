import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one way the tests wait for something to happen: poll a condition, with
 * a deadline that fails the test with what it was waiting for (never hang,
 * never sleep "long enough"). A condition that throws counts as "not yet"
 * (a server that does not answer yet); the last error goes into the failure.
 */
export interface WaitOptions {
  /** Fail after this long (default 20 s). */
  readonly timeoutMs?: number;
  /** Poll this often (default 100 ms). */
  readonly intervalMs?: number;
  /** What is awaited, for the failure: `timed out after 20000 ms waiting for <message>`. */
  readonly message: string | (() => string | Promise<string>);
  /** Fail at once with the reason it returns (e.g. the program that should get ready has exited). */
  readonly giveUp?: () => string | undefined;
}

export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  options: WaitOptions,
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  const describe = async () =>
    typeof options.message === 'string' ? options.message : await options.message();
  let lastError: unknown;
  for (;;) {
    const reason = options.giveUp?.();
    if (reason !== undefined) throw new Error(`stopped waiting for ${await describe()}: ${reason}`);
    try {
      if (await condition()) return;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const last =
        lastError === undefined ? '' : ` (last error: ${(lastError as Error).message ?? lastError})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${await describe()}${last}`);
    }
    await sleep(Math.min(options.intervalMs ?? 100, Math.max(0, deadline - Date.now())));
  }
}
