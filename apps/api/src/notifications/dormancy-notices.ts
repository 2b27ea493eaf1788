import type { Database, DormancyMailDue, DormancyNoticesRepository } from '@mydns/db';
import { fqdn } from '@mydns/domain';
import type { MailLinks } from '../mail/links.ts';
import type { MailOutbox, MailRequest } from '../mail/outbox.ts';
import { html } from '../web/html.ts';
import { drainInBatches } from './batches.ts';

/**
 * Dormancy mails (README "Accounts", "Notices"), for the hosts that have
 * notices on (`notify.email`): a warning `warningDays` before a host goes
 * dormant, once per period of inactivity (an update starts a new one), and a
 * notice when it has gone dormant, saying that any update brings it back.
 * Run by the maintenance pass (lifecycle/maintenance.ts) right after it makes
 * hosts dormant, never on the update's path. Each batch claims its hosts and
 * queues their mails in one transaction (dormancy-notices-repository.ts).
 */

const DAY_MS = 86_400_000;
const BATCH = 500;

export interface DormancyMailsReport {
  readonly warned: number;
  readonly toldDormant: number;
}

export interface DormancyNotices {
  /** One pass at `now`: every mail due is queued. */
  runOnce(now: Date): Promise<DormancyMailsReport>;
}

export interface DormancyNoticesDeps {
  db: Database;
  notices: DormancyNoticesRepository;
  mail: Pick<MailOutbox, 'enabled' | 'links' | 'enqueue'>;
  inactivityDays: number;
  /** 0: no warnings, only the notice. */
  warningDays: number;
}

const day = (date: Date) => date.toISOString().slice(0, 10);

interface DormancyFacts {
  readonly hostname: string;
  readonly lastActivity: string;
  readonly dormantOn: string;
  readonly daysLeft: number;
  readonly inactivityDays: number;
  readonly accountPage: string;
  /** Where the host's notices are switched off (a PATCH, so a link opened by a mail scanner changes nothing). */
  readonly hostApi: string;
}

function factsOf(due: DormancyMailDue, links: MailLinks, inactivityDays: number, now: Date): DormancyFacts {
  const dormantAt = new Date(due.lastActivity.getTime() + inactivityDays * DAY_MS);
  return {
    hostname: fqdn(due.name, due.zone),
    lastActivity: day(due.lastActivity),
    dormantOn: day(dormantAt),
    daysLeft: Math.max(1, Math.ceil((dormantAt.getTime() - now.getTime()) / DAY_MS)),
    inactivityDays,
    accountPage: links.link('account'),
    hostApi: links.link(`api/v1/hosts/${fqdn(due.name, due.zone)}`),
  };
}

// How to stop them, in every mail: the same switch as the address-change notices.
const offText = (f: DormancyFacts) =>
  `You get this because notices are on for ${f.hostname}. To switch them off, send\n` +
  `PATCH ${f.hostApi} {"notify":{"email":null}}\n` +
  `with your account's credentials.\n`;

const offHtml = (f: DormancyFacts) =>
  html`<p>You get this because notices are on for ${f.hostname}. To switch them off, send <code>PATCH ${f.hostApi} {"notify":{"email":null}}</code> with your account's credentials.</p>`;

export function dormancyWarningMail(to: string, f: DormancyFacts): MailRequest {
  const days = f.daysLeft === 1 ? '1 day' : `${f.daysLeft} days`;
  return {
    to,
    kind: 'dormancy_warning',
    subject: `${f.hostname} goes dormant in ${days}`,
    text:
      `Hello,\n\n${f.hostname} has had no successful update since ${f.lastActivity} (UTC).\n` +
      `On ${f.dormantOn}, after ${f.inactivityDays} days without one, it goes dormant: its addresses\n` +
      `leave DNS (the name stays yours).\n\n` +
      `Any successful update before then keeps it active, even one that sends the same address.\n` +
      `If you no longer use it, there is nothing to do. Your hosts: ${f.accountPage}\n\n${offText(f)}`,
    html: html`<p>Hello,</p><p><strong>${f.hostname}</strong> has had no successful update since ${f.lastActivity} (UTC). On ${f.dormantOn}, after ${f.inactivityDays} days without one, it goes dormant: its addresses leave DNS (the name stays yours).</p><p>Any successful update before then keeps it active, even one that sends the same address. If you no longer use it, there is nothing to do. <a href="${f.accountPage}">Your hosts</a></p>${offHtml(f)}`
      .value,
  };
}

export function dormantMail(to: string, f: DormancyFacts): MailRequest {
  return {
    to,
    kind: 'dormant',
    subject: `${f.hostname} is dormant: its addresses left DNS`,
    text:
      `Hello,\n\n${f.hostname} has had no successful update since ${f.lastActivity} (UTC), ${f.inactivityDays} days,\n` +
      `so it went dormant: its addresses are out of DNS. The name stays yours.\n\n` +
      `To bring it back, update it once, as your router or client does (any successful update,\n` +
      `even with the same address): its addresses are back in DNS at once.\nYour hosts: ${f.accountPage}\n\n${offText(f)}`,
    html: html`<p>Hello,</p><p><strong>${f.hostname}</strong> has had no successful update since ${f.lastActivity} (UTC), ${f.inactivityDays} days, so it went dormant: its addresses are out of DNS. The name stays yours.</p><p>To bring it back, update it once, as your router or client does (any successful update, even with the same address): its addresses are back in DNS at once. <a href="${f.accountPage}">Your hosts</a></p>${offHtml(f)}`
      .value,
  };
}

export function createDormancyNotices(deps: DormancyNoticesDeps): DormancyNotices {
  const { links } = deps.mail;
  /** Claims and queues batch after batch: every mail due goes out in this pass (batches.ts). */
  const drain = (
    take: (trx: Database, size: number) => Promise<DormancyMailDue[]>,
    build: (due: DormancyMailDue) => MailRequest,
  ) =>
    drainInBatches(deps.db, BATCH, async (trx, size) => {
      const due = await take(trx, size);
      for (const one of due) await deps.mail.enqueue(build(one), trx);
      return due.length;
    });
  return {
    async runOnce(now) {
      // Without mail nothing is claimed: the mails due go out once mail is set up.
      if (!deps.mail.enabled) return { warned: 0, toldDormant: 0 };
      const facts = (due: DormancyMailDue) => factsOf(due, links, deps.inactivityDays, now);
      const toldDormant = await drain(
        (trx, size) => deps.notices.takeDormant(trx, size),
        (due) => dormantMail(due.email, facts(due)),
      );
      const warned =
        deps.warningDays > 0
          ? await drain(
              (trx, size) =>
                deps.notices.takeWarnings(
                  trx,
                  {
                    warnBefore: new Date(now.getTime() - (deps.inactivityDays - deps.warningDays) * DAY_MS),
                    dormantBefore: new Date(now.getTime() - deps.inactivityDays * DAY_MS),
                  },
                  size,
                ),
              (due) => dormancyWarningMail(due.email, facts(due)),
            )
          : 0;
      return { warned, toldDormant };
    },
  };
}
