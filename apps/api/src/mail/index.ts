/**
 * Outbound mail (README "Mail"), wired: the outbox callers queue into, the
 * worker that sends through the smarthost, the limits for mail a stranger
 * can cause, and their metrics.
 */
import { createMailOutboxRepository, type Database, type MailOutboxRepository } from '@mydns/db';
import type { Logger } from '@mydns/runtime';
import type { Registry } from 'prom-client';
import type { Config } from '../config.ts';
import { createMailLimits, type MailLimits } from './limits.ts';
import { createMailLinks } from './links.ts';
import { createMailMetrics } from './metrics.ts';
import { createMailOutbox, type MailOutbox } from './outbox.ts';
import { createSmarthostTransport, type MailTransport } from './smarthost.ts';
import { createMailWorker, type MailWorker } from './worker.ts';

export { normaliseAddress } from './addresses.ts';
export type { MailLimits, MailLimitVerdict } from './limits.ts';
export type { MailLinks } from './links.ts';
export { MailInputError } from './message.ts';
export type { EnqueueResult, MailOutbox, MailRequest } from './outbox.ts';

export interface Mail extends MailOutbox {
  readonly limits: MailLimits;
  /** Undefined when mail is off. */
  readonly worker: MailWorker | undefined;
  readonly repository: MailOutboxRepository;
  start(): void;
  stop(): Promise<void>;
}

export interface MailDeps {
  db: Database;
  logger: Logger;
  registry: Registry;
  /** Tests: another way out than the smarthost. */
  transport?: MailTransport;
  pollMs?: number;
}

/** From the API's settings: `mail`, and the IPv6 prefix its limits count sources by. */
export function createMail(settings: Pick<Config, 'mail' | 'limits' | 'publicUrl'>, deps: MailDeps): Mail {
  const config = settings.mail;
  const log = deps.logger.child({ component: 'mail' });
  const repository = createMailOutboxRepository(deps.db);
  const smarthost = config.smarthost;
  // Without mail nothing is ever queued: the gauges need no query at every scrape.
  const metrics = createMailMetrics(deps.registry, () =>
    smarthost || deps.transport
      ? repository.stats()
      : Promise.resolve({ queued: 0, oldestQueuedSeconds: 0, overdueSeconds: 0 }),
  );
  const transport =
    deps.transport ??
    (smarthost
      ? createSmarthostTransport({
          smarthost,
          sender: config.from.address,
          clientName: config.clientName,
          timeoutMs: config.timeoutMs,
        })
      : undefined);
  const worker = transport
    ? createMailWorker({
        outbox: repository,
        transport,
        policy: { retryMs: config.retryMs, retryMaxMs: config.retryMaxMs, giveUpMs: config.giveUpMs },
        timeoutMs: config.timeoutMs,
        keepMs: config.keepMs,
        logger: deps.logger,
        events: {
          onSent: (kind) => metrics.sent.inc({ kind }),
          onDeferred: (kind) => metrics.deferred.inc({ kind }),
          onFailed: (kind, reason) => metrics.failed.inc({ kind, reason }),
        },
        ...(deps.pollMs ? { pollMs: deps.pollMs } : {}),
      })
    : undefined;
  const outbox = createMailOutbox({
    enabled: worker !== undefined,
    from: config.from,
    links: createMailLinks(config.publicUrl),
    repository,
    onQueued: (kind) => {
      metrics.queued.inc({ kind });
      worker?.wake();
    },
  });
  const limits = createMailLimits({
    ...config.limits,
    ipv6Prefix: settings.limits.ipv6Prefix,
    onLimited: (scope) => metrics.limited.inc({ scope }),
  });
  return {
    ...outbox,
    limits,
    worker,
    repository,
    start() {
      if (smarthost) {
        // The host and port only: the URL may hold a password.
        const scheme = smarthost.security === 'implicit' ? 'smtps' : 'smtp';
        log.info(
          `mail goes out through ${scheme} ${smarthost.host}:${smarthost.port} (TLS ${smarthost.tls}` +
            `${smarthost.credentials ? ', with AUTH' : ''}) from ${config.from.address}`,
        );
        if (settings.publicUrl === undefined)
          log.warn(`MYDNS_PUBLIC_URL is not set: links in mails point at ${config.publicUrl}`);
      }
      worker?.start();
    },
    async stop() {
      await worker?.stop();
    },
  };
}
