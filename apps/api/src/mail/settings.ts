/**
 * The outbound mail's settings (README "Mail"): their schema, spread into the
 * API's (config.ts, still the only reader of the environment), and what they
 * become in Config.
 */
import { isIP } from 'node:net';
import { parseDuration, type RateLimit, zDuration, zRateLimit } from '@mydns/runtime';
import { z } from 'zod';
import { type Mailbox, parseMailbox } from './addresses.ts';
import { type MailUrl, parseMailUrl } from './mail-url.ts';

export const mailSettingsShape = {
  // Empty: no mail. Problems are named without the value: it may hold a password.
  MYDNS_MAIL_URL: z
    .string()
    .transform((text, ctx) => {
      if (text.trim() === '') return undefined;
      const parsed = parseMailUrl(text);
      if (parsed.ok) return parsed.url;
      ctx.addIssue({ code: 'custom', message: parsed.problem });
      return z.NEVER;
    })
    .optional(),
  MYDNS_MAIL_FROM: z
    .string()
    .transform((text, ctx) => {
      if (text.trim() === '') return undefined;
      const mailbox = parseMailbox(text);
      if (mailbox) return mailbox;
      ctx.addIssue({ code: 'custom', message: 'must be an address, or a name and <address>' });
      return z.NEVER;
    })
    .optional(),
  MYDNS_MAIL_TIMEOUT: zDuration.default(60_000),
  MYDNS_MAIL_RETRY: zDuration.default(30_000),
  MYDNS_MAIL_RETRY_MAX: zDuration.default(3_600_000),
  MYDNS_MAIL_GIVE_UP: zDuration.default(2 * 86_400_000),
  MYDNS_MAIL_KEEP: zDuration.default(7 * 86_400_000),
  MYDNS_MAIL_RECIPIENT_LIMIT: zRateLimit.default({ count: 5, windowMs: 3_600_000 }),
  MYDNS_MAIL_SOURCE_LIMIT: zRateLimit.default({ count: 20, windowMs: 3_600_000 }),
};

export interface MailConfig {
  /** Undefined: no mail is sent (nothing is queued either). */
  readonly smarthost: MailUrl | undefined;
  readonly from: Mailbox;
  /** Every link in a mail starts with this (MYDNS_PUBLIC_URL). */
  readonly publicUrl: string;
  /** Our name in EHLO. */
  readonly clientName: string;
  /** Each step with the smarthost: connect, TLS, each reply. */
  readonly timeoutMs: number;
  readonly retryMs: number;
  readonly retryMaxMs: number;
  readonly giveUpMs: number;
  /** Sent and given-up mails stay listed (without their text) this long. */
  readonly keepMs: number;
  /** Mails a stranger can cause (a password reset), per recipient and per source. */
  readonly limits: { readonly recipient: RateLimit; readonly source: RateLimit };
}

type MailSettings = z.output<z.ZodObject<typeof mailSettingsShape>>;

export function toMailConfig(
  s: MailSettings,
  context: { zone: string; publicUrl: string | undefined; httpPort: number },
): MailConfig {
  // README "Settings": unset, MYDNS_PUBLIC_URL is http://127.0.0.1:<MYDNS_HTTP_PORT> for mails.
  const publicUrl = context.publicUrl ?? `http://127.0.0.1:${context.httpPort}`;
  const publicHost = new URL(publicUrl).hostname;
  return {
    smarthost: s.MYDNS_MAIL_URL,
    from: s.MYDNS_MAIL_FROM ?? { name: 'MyDNS', address: `no-reply@${context.zone}` },
    publicUrl,
    // The service's public name when it has one (RFC 5321 §4.1.4: EHLO names the client), else the zone.
    clientName: publicHost.includes('.') && !isIP(publicHost) ? publicHost : context.zone,
    timeoutMs: s.MYDNS_MAIL_TIMEOUT,
    retryMs: s.MYDNS_MAIL_RETRY,
    retryMaxMs: s.MYDNS_MAIL_RETRY_MAX,
    giveUpMs: s.MYDNS_MAIL_GIVE_UP,
    keepMs: s.MYDNS_MAIL_KEEP,
    limits: { recipient: s.MYDNS_MAIL_RECIPIENT_LIMIT, source: s.MYDNS_MAIL_SOURCE_LIMIT },
  };
}

/** Rules across the mail settings, on the raw values (config.ts reports them with the rest). */
export function mailCrossChecks(env: Record<string, string | undefined>): [string, string][] {
  const problems: [string, string][] = [];
  const retry = parseDuration(env.MYDNS_MAIL_RETRY ?? '30s');
  const max = parseDuration(env.MYDNS_MAIL_RETRY_MAX ?? '1h');
  if (retry !== undefined && max !== undefined && max < retry)
    problems.push(['MYDNS_MAIL_RETRY_MAX', 'must be at least MYDNS_MAIL_RETRY']);
  if (retry === 0) problems.push(['MYDNS_MAIL_RETRY', 'must be more than 0']);
  if (parseDuration(env.MYDNS_MAIL_TIMEOUT ?? '60s') === 0)
    problems.push(['MYDNS_MAIL_TIMEOUT', 'must be more than 0']);
  return problems;
}
