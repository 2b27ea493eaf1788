/**
 * What becomes of a mail after an attempt (README "Mail"). Pure.
 *
 * - Sent: done.
 * - The smarthost refused the recipient or the message for good (a 5xx to
 *   RCPT, to DATA or after the end of data): given up at once; trying again
 *   would get the same answer.
 * - Anything else is temporary and retried: the smarthost down or slow, TLS
 *   or AUTH failing (a setting to fix, the mail waits meanwhile), a refused
 *   sender (MAIL: the smarthost's idea of MYDNS_MAIL_FROM, not the
 *   recipient's), a 4xx, with the outboxes' backoff (packages/runtime backoff.ts).
 */
import { nextRetry, type RetryPolicy } from '@mydns/runtime';
import { SmtpRejection } from '@mydns/smtp-client';

export { type RetryPolicy, retryDelayMs } from '@mydns/runtime';

export type AttemptOutcome =
  | { readonly kind: 'defer'; readonly delayMs: number }
  | { readonly kind: 'fail'; readonly reason: 'rejected' | 'expired' };

/** After a failed attempt: when to try again, or why not. */
export function afterFailure(
  error: unknown,
  mail: { readonly attempts: number; readonly ageMs: number },
  policy: RetryPolicy,
): AttemptOutcome {
  if (isPermanent(error)) return { kind: 'fail', reason: 'rejected' };
  const next = nextRetry(mail, policy);
  return next.kind === 'expired' ? { kind: 'fail', reason: 'expired' } : next;
}

/**
 * A 5xx about the recipient or the message. Not 530 (RFC 4954 §6:
 * "authentication required", whatever the step): that is our setting.
 */
export function isPermanent(error: unknown): boolean {
  if (!(error instanceof SmtpRejection) || !error.permanent) return false;
  if (error.reply.code === 530) return false;
  return error.at !== 'mail';
}
