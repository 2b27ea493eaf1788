/**
 * Retries with backoff for the outboxes (the mail outbox, webhook events):
 * the waits double from `retryMs` up to `retryMaxMs`, and an item whose next
 * attempt would come later than `giveUpMs` after it was queued is given up
 * instead. Pure.
 */
export interface RetryPolicy {
  readonly retryMs: number;
  readonly retryMaxMs: number;
  readonly giveUpMs: number;
}

/** The wait after the `attempts`-th failed attempt: retryMs, 2×, 4× … at most retryMaxMs. */
export function retryDelayMs(attempts: number, policy: RetryPolicy): number {
  const doublings = Math.min(Math.max(attempts - 1, 0), 40);
  return Math.min(policy.retryMs * 2 ** doublings, policy.retryMaxMs);
}

export type RetryDecision =
  | { readonly kind: 'defer'; readonly delayMs: number }
  | { readonly kind: 'expired' };

/** After a failed attempt that may succeed later: when to try again, or give up (too old by then). */
export function nextRetry(
  item: { readonly attempts: number; readonly ageMs: number },
  policy: RetryPolicy,
): RetryDecision {
  const delayMs = retryDelayMs(item.attempts, policy);
  return item.ageMs + delayMs > policy.giveUpMs ? { kind: 'expired' } : { kind: 'defer', delayMs };
}
