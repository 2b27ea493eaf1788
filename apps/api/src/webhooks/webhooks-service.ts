/**
 * A host's webhook, as the JSON API and the dashboard set it (README
 * "Webhooks"): the URL is checked (an http(s) URL without credentials whose
 * every address is public, unless MYDNS_ALLOW_PRIVATE_WEBHOOKS), a new secret
 * is made for every URL set, and it is shown once, in the answer.
 */
import { randomBytes } from 'node:crypto';
import type { WebhookDelivery, WebhooksRepository } from '@mydns/db';
import { apiError } from '../errors.ts';
import { secretText } from './signature.ts';
import { checkWebhookUrl, type ResolveAddresses, resolveTarget } from './target.ts';

export interface WebhooksService {
  /** The URL to set, or null to switch it off; an `invalid_webhook` or `webhook_target_private` error. */
  check(input: unknown): Promise<string | null>;
  /** Sets the URL with a new secret; the secret's text, to show once. */
  set(hostId: number, url: string): Promise<string>;
  clear(hostId: number): Promise<void>;
  url(hostId: number): Promise<string | undefined>;
  lastDelivery(hostId: number): Promise<WebhookDelivery | undefined>;
}

export function createWebhooksService(deps: {
  repository: WebhooksRepository;
  resolve: ResolveAddresses;
  allowPrivate: boolean;
  random?: () => Buffer;
}): WebhooksService {
  const random = deps.random ?? (() => randomBytes(32));
  return {
    async check(input) {
      if (input === null) return null;
      const checked = checkWebhookUrl(input);
      if (!checked.ok) throw apiError('invalid_webhook', checked.reason);
      const target = await resolveTarget(checked.url, {
        resolve: deps.resolve,
        allowPrivate: deps.allowPrivate,
      });
      if (!target.ok) {
        if (target.unresolved) throw apiError('invalid_webhook', `the webhook's host: ${target.reason}`);
        throw apiError(
          'webhook_target_private',
          `the webhook must point at a public address: ${target.reason}`,
        );
      }
      return checked.url.href;
    },
    async set(hostId, url) {
      const secret = random();
      await deps.repository.set(hostId, url, secret);
      return secretText(secret);
    },
    clear: (hostId) => deps.repository.clear(hostId),
    url: (hostId) => deps.repository.url(hostId),
    lastDelivery: (hostId) => deps.repository.lastDelivery(hostId),
  };
}
