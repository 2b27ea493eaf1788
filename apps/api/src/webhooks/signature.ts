/**
 * What a webhook sends (README "Webhooks"). Pure. The body is built once per
 * attempt from the event row, always with the same key order, and the
 * signature is HMAC-SHA256 over exactly those bytes, keyed with the secret
 * as the owner was shown it (its text), so a receiver checks it with
 * `openssl dgst -sha256 -hmac "$SECRET"` on the raw body.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Addresses, WebhookEventKind } from '@mydns/db';

export const SIGNATURE_HEADER = 'X-MyDNS-Signature';

export interface WebhookEvent {
  readonly event: WebhookEventKind;
  readonly hostname: string;
  readonly old: Addresses;
  readonly new: Addresses;
  readonly at: Date;
}

/** The secret as the owner sees it (the PATCH reply, the dashboard): its 32 bytes in base64url. */
export function secretText(secret: Buffer): string {
  return secret.toString('base64url');
}

export function webhookBody(event: WebhookEvent): string {
  return JSON.stringify({
    event: event.event,
    hostname: event.hostname,
    old: { ipv4: event.old.ipv4, ipv6: event.old.ipv6 },
    new: { ipv4: event.new.ipv4, ipv6: event.new.ipv6 },
    at: event.at.toISOString(),
  });
}

/** `sha256=<hex>` of the body, keyed with the secret's text. */
export function signatureOf(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** What a receiver does (and the tests): compare in constant time. */
export function isValidSignature(secret: string, body: string | Buffer, header: string | undefined): boolean {
  const expected = Buffer.from(signatureOf(secret, body));
  const given = Buffer.from(header ?? '');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
