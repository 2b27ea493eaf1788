import { type Clock, systemClock } from '@mydns/runtime';

/**
 * At most one NOTIFY per zone per interval (MYDNS_NOTIFY_INTERVAL; README
 * "Growing past one machine").
 *
 * A NOTIFY makes every AXFR secondary fetch the whole zone: PowerDNS sends no
 * incremental transfers. After every batch, as before, a busy large zone
 * would be transferred back to back and the secondaries would never catch
 * up. So the first change after a quiet interval is announced at once (light
 * load keeps its lag of a transfer), and the changes that follow within the
 * interval are announced together by one NOTIFY when it ends: the last change
 * is always announced, never later than one interval after it.
 */
export interface NotifyCoalescer {
  /** The zone changed: a NOTIFY now, or at the end of the current interval. */
  changed(): void;
  /** Waits for the NOTIFY in flight, if any (the CLI's flush before it exits). */
  idle(): Promise<void>;
  /** Sends what is still due at once (a last change is not left unannounced), and stops. */
  stop(): Promise<void>;
}

export interface NotifyCoalescerOptions {
  /** Sends one NOTIFY (PowerDNS's API; it fans out to every secondary). */
  send(): Promise<void>;
  /** 0: a NOTIFY after every change, as each comes. */
  intervalMs: number;
  /** A NOTIFY that failed: the secondaries hear at their next refresh, or at the next change. */
  onError?: (error: unknown) => void;
  clock?: Clock;
}

export function createNotifyCoalescer(options: NotifyCoalescerOptions): NotifyCoalescer {
  const clock = options.clock ?? systemClock;
  /** When the last NOTIFY went out (-Infinity: never). */
  let lastSent = Number.NEGATIVE_INFINITY;
  /** A change since the last NOTIFY, still to be announced. */
  let due = false;
  let sending: Promise<void> | undefined;
  let timer: { wait: Promise<void>; cancel: AbortController } | undefined;
  let stopped = false;

  const send = (): Promise<void> => {
    due = false;
    lastSent = clock.now();
    const sent = options
      .send()
      .catch((error: unknown) => options.onError?.(error))
      .finally(() => {
        if (sending === sent) sending = undefined;
      });
    sending = sent;
    return sent;
  };

  const schedule = () => {
    if (timer || stopped) return;
    const cancel = new AbortController();
    const wait = clock
      .sleep(Math.max(0, lastSent + options.intervalMs - clock.now()), {
        signal: cancel.signal,
        keepAlive: false,
      })
      .then(async () => {
        timer = undefined;
        if (cancel.signal.aborted || !due) return;
        // One NOTIFY in flight at a time: a slow PowerDNS API is not asked twice at once.
        await sending;
        if (!stopped && due) void send();
      });
    timer = { wait, cancel };
  };

  return {
    changed() {
      if (stopped) return;
      due = true;
      if (!timer && !sending && clock.now() - lastSent >= options.intervalMs) {
        void send();
        return;
      }
      schedule();
    },
    async idle() {
      await sending;
    },
    async stop() {
      stopped = true;
      timer?.cancel.abort();
      await timer?.wait;
      await sending;
      if (due) await send();
    },
  };
}
