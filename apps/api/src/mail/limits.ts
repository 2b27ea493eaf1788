/**
 * Limits on mail a stranger can cause (a password reset request names any
 * address): per recipient, so nobody's inbox can be flooded from many
 * sources, and per source (an IPv4 address, or the IPv6 network of
 * MYDNS_IPV6_LIMIT_PREFIX bits around it: auth/rate-limiter.ts, `limitKey`),
 * so one source cannot spread mail over many recipients. In memory, per
 * replica, like the other limits.
 *
 * The endpoint asks before it queues and answers the same either way (a
 * reset answers 202 whether or not a mail goes out), so a refusal tells a
 * stranger nothing.
 */
import { type IpAddress, limitKey } from '@mydns/domain';
import type { RateLimit } from '@mydns/runtime';
import { createRateLimiter } from '../auth/rate-limiter.ts';

export type MailLimitVerdict =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly scope: 'source' | 'recipient' };

export interface MailLimits {
  /** Counts one mail from `source` to `recipient` (a normalised address) unless a limit is reached. */
  allow(request: { recipient: string; source: IpAddress }): MailLimitVerdict;
}

export function createMailLimits(options: {
  recipient: RateLimit;
  source: RateLimit;
  ipv6Prefix: number;
  now?: () => number;
  onLimited?: (scope: 'source' | 'recipient') => void;
}): MailLimits {
  const clock = options.now ? { now: options.now } : {};
  const bySource = createRateLimiter({ ...options.source, ...clock });
  const byRecipient = createRateLimiter({ ...options.recipient, ...clock });
  const refuse = (scope: 'source' | 'recipient'): MailLimitVerdict => {
    options.onLimited?.(scope);
    return { allowed: false, scope };
  };
  return {
    allow({ recipient, source }) {
      // The source first: a source over its limit does not use up the recipient's allowance.
      if (!bySource.hit(limitKey(source, options.ipv6Prefix))) return refuse('source');
      // Addresses differ in case only in theory (RFC 5321 §2.4); counting them apart would double the limit.
      if (!byRecipient.hit(recipient.toLowerCase())) return refuse('recipient');
      return { allowed: true };
    },
  };
}
