import type { MailQueueStats } from '@mydns/db';
import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * The mail's metrics (README "Mail"), in the API's registry. The queue's
 * figures are read from Postgres at scrape time (once per scrape for the three
 * gauges); when Postgres does not answer they keep their last values.
 */
export interface MailMetrics {
  readonly queued: Counter<'kind'>;
  readonly sent: Counter<'kind'>;
  readonly deferred: Counter<'kind'>;
  readonly failed: Counter<'kind' | 'reason'>;
  readonly limited: Counter<'scope'>;
}

export function createMailMetrics(registry: Registry, stats: () => Promise<MailQueueStats>): MailMetrics {
  let pending: Promise<MailQueueStats | undefined> | undefined;
  let pendingSince = 0;
  const read = () => {
    if (!pending || Date.now() - pendingSince > 1000) {
      pendingSince = Date.now();
      pending = stats().catch(() => undefined);
    }
    return pending;
  };
  const gauge = (name: string, help: string, pick: (s: MailQueueStats) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        const s = await read();
        if (s) this.set(pick(s));
      },
    });
  gauge('mydns_mail_queue_length', 'Mails queued and not sent yet', (s) => s.queued);
  gauge(
    'mydns_mail_oldest_queued_seconds',
    'Age of the oldest mail not sent yet (grows while the smarthost is unavailable)',
    (s) => s.oldestQueuedSeconds,
  );
  gauge(
    'mydns_mail_oldest_due_seconds',
    'How long the most overdue mail has been due without an attempt (grows when no worker runs)',
    (s) => s.overdueSeconds,
  );
  return {
    queued: new Counter({
      name: 'mydns_mail_queued_total',
      help: 'Mails queued (committed), by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    sent: new Counter({
      name: 'mydns_mail_sent_total',
      help: 'Mails the smarthost accepted, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    deferred: new Counter({
      name: 'mydns_mail_deferred_total',
      help: 'Attempts that failed for now (the mail is retried), by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    failed: new Counter({
      name: 'mydns_mail_failed_total',
      help: 'Mails given up: refused by the smarthost (rejected) or not sent within MYDNS_MAIL_GIVE_UP (expired)',
      labelNames: ['kind', 'reason'],
      registers: [registry],
    }),
    limited: new Counter({
      name: 'mydns_mail_limited_total',
      help: 'Mails a stranger asked for and the limits refused, per recipient or per source',
      labelNames: ['scope'],
      registers: [registry],
    }),
  };
}
