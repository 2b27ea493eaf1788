import type { AddressNoticesRepository, Database, DueNotice } from '@mydns/db';
import { fqdn } from '@mydns/domain';
import { faultFields, type Logger } from '@mydns/runtime';
import type { MailLinks } from '../mail/links.ts';
import type { MailOutbox, MailRequest } from '../mail/outbox.ts';
import { drainInBatches } from './batches.ts';

/**
 * Address-change notices by mail (README "Accounts", "Notices"). Nothing on
 * the update's path: every `everyMs` this compares the hosts that have them
 * on with the address each was last told, and queues one mail per host whose
 * address moved, at most one per host per `intervalMs` (10 minutes), telling
 * the address before the first change and the one now (what happened in
 * between is collected into that one mail). The mail goes through the outbox
 * in the same transaction that records it as told.
 */

export const NOTICE_INTERVAL_MS = 10 * 60_000;
const BATCH = 100;

export interface AddressNotices {
  /** One pass; how many mails were queued. */
  runOnce(): Promise<number>;
  start(): void;
  stop(): Promise<void>;
}

const shown = (address: { ipv4: string | null; ipv6: string | null }) =>
  [address.ipv4, address.ipv6].filter(Boolean).join(', ') || 'none (withdrawn)';

export function addressChangedMail(notice: DueNotice, links: MailLinks): MailRequest {
  const hostname = fqdn(notice.name, notice.zone);
  const page = links.link('account');
  const text = `Hello,\n\nthe address of ${hostname} changed.\n\nBefore: ${shown(notice.old)}\nNow:    ${shown(notice.new)}\n\nIf you did not expect this, check the host's history on ${page}.\nThese notices are at most one per host per 10 minutes.\n`;
  const escapeText = (value: string) => value.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  return {
    to: notice.email,
    kind: 'address_changed',
    subject: `${hostname}: the address changed`,
    text,
    html: `<p>Hello,</p><p>the address of <strong>${escapeText(hostname)}</strong> changed.</p><p>Before: ${escapeText(shown(notice.old))}<br>Now: ${escapeText(shown(notice.new))}</p><p>If you did not expect this, check the host's history on <a href="${escapeText(page)}">your account page</a>. These notices are at most one per host per 10 minutes.</p>`,
  };
}

export function createAddressNotices(deps: {
  db: Database;
  notices: Pick<AddressNoticesRepository, 'takeDue'>;
  mail: Pick<MailOutbox, 'enabled' | 'links' | 'enqueue'>;
  logger: Logger;
  everyMs: number;
  intervalMs?: number;
  now?: () => Date;
}): AddressNotices {
  const now = deps.now ?? (() => new Date());
  const interval = deps.intervalMs ?? NOTICE_INTERVAL_MS;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;
  // Every notice due in one pass, however many hosts changed since the last (batches.ts).
  const pass = async () =>
    deps.mail.enabled
      ? drainInBatches(deps.db, BATCH, async (trx, size) => {
          const due = await deps.notices.takeDue(trx, now(), interval, size);
          for (const notice of due) await deps.mail.enqueue(addressChangedMail(notice, deps.mail.links), trx);
          return due.length;
        })
      : 0;
  const runOnce = () => {
    // One pass at a time in this process; other replicas skip the rows this one holds.
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };
  return {
    runOnce,
    start() {
      timer = setInterval(() => {
        runOnce().catch((error: unknown) => deps.logger.error('address notices failed', faultFields(error)));
      }, deps.everyMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      await running?.catch(() => undefined);
    },
  };
}
