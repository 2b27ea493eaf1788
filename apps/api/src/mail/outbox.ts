/**
 * Queuing a mail (README "Mail"): checked, built (message.ts) and committed
 * as a row of the outbox; the worker sends it. Nothing here talks to the
 * smarthost, so a caller on the update path (a notice of an address change)
 * pays one INSERT, in its own transaction when it passes one: the mail is
 * queued exactly when the change that causes it commits.
 */
import { randomBytes } from 'node:crypto';
import type { MailOutboxRepository } from '@mydns/db';
import type { Knex } from 'knex';
import { type Mailbox, normaliseAddress } from './addresses.ts';
import type { MailLinks } from './links.ts';
import { buildMessage, MailInputError } from './message.ts';

export interface MailRequest {
  readonly to: string;
  readonly subject: string;
  readonly text: string;
  readonly html: string;
  /** What the mail is (`verify_email`, `password_reset`, `address_changed` …): metrics and logs. */
  readonly kind: string;
  /** A mail with the same key is not queued again while the first is kept (MYDNS_MAIL_KEEP). */
  readonly dedupeKey?: string;
}

export type EnqueueResult =
  | { readonly queued: true; readonly id: number }
  | { readonly queued: false; readonly reason: 'disabled' | 'duplicate' };

export interface MailOutbox {
  /** False when MYDNS_MAIL_URL is empty: nothing is queued, and features that need mail say so. */
  readonly enabled: boolean;
  /** Links for mails: every link must start with MYDNS_PUBLIC_URL. */
  readonly links: MailLinks;
  /**
   * Queues a mail, in `trx` when given (then it is queued if and when `trx`
   * commits). A MailInputError for a bad address, kind, header value or a
   * link that does not start with MYDNS_PUBLIC_URL.
   */
  enqueue(request: MailRequest, trx?: Knex.Transaction): Promise<EnqueueResult>;
}

export interface MailOutboxDeps {
  enabled: boolean;
  from: Mailbox;
  links: MailLinks;
  repository: MailOutboxRepository;
  /** After the row is committed: wake the worker, count it. */
  onQueued?: (kind: string) => void;
  now?: () => Date;
  random?: () => string;
}

const KIND = /^[a-z][a-z0-9_]{0,39}$/;

export function createMailOutbox(deps: MailOutboxDeps): MailOutbox {
  const now = deps.now ?? (() => new Date());
  const random = deps.random ?? (() => randomBytes(16).toString('hex'));
  return {
    enabled: deps.enabled,
    links: deps.links,
    async enqueue(request, trx) {
      const to = normaliseAddress(request.to);
      if (!to) throw new MailInputError('the recipient is not an address mail can be sent to');
      if (!KIND.test(request.kind)) throw new MailInputError(`"${request.kind}" is not a mail kind`);
      const foreign = [...deps.links.foreign(request.text), ...deps.links.foreign(request.html)];
      if (foreign.length > 0)
        throw new MailInputError(
          `a link in the mail does not start with ${deps.links.base} (MYDNS_PUBLIC_URL)`,
        );
      const built = buildMessage({
        from: deps.from,
        to,
        subject: request.subject,
        text: request.text,
        html: request.html,
        date: now(),
        random,
      });
      if (!deps.enabled) return { queued: false, reason: 'disabled' };
      const id = await deps.repository.insert(
        { kind: request.kind, recipient: to, message: built.data, dedupeKey: request.dedupeKey },
        trx,
      );
      if (id === undefined) return { queued: false, reason: 'duplicate' };
      const queued = () => deps.onQueued?.(request.kind);
      // In a transaction the row exists for the worker only once it commits (and never if it rolls back).
      if (trx) trx.executionPromise.then(queued, () => undefined);
      else queued();
      return { queued: true, id };
    },
  };
}
