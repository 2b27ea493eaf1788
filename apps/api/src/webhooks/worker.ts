/**
 * The webhook worker (README "Webhooks"): takes due events from the outbox
 * (any replica; `skip locked` keeps two from taking the same event), checks
 * the target again (DNS can change since the PATCH), posts the signed body
 * to the checked address, and marks each event delivered, due again later
 * (the outboxes' backoff, packages/runtime backoff.ts) or given up after an
 * hour. Nothing on the update's path waits for it: the update committed a
 * row, and that is all it did. A worker that dies mid-batch leaves its events
 * leased; they are due again when the lease ends (an event may then arrive
 * twice, with the same X-MyDNS-Delivery, never zero times).
 */
import type { ClaimedWebhookEvent, WebhookAttempt, WebhooksRepository } from '@mydns/db';
import { errorMessage, type Logger, nextRetry, type RetryPolicy } from '@mydns/runtime';
import { type PostOutcome, postWebhook, type WebhookRequest } from './deliver.ts';
import { secretText, signatureOf, webhookBody } from './signature.ts';
import { checkWebhookUrl, type ResolveAddresses, resolveTarget, urlForLog } from './target.ts';

export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Enough for a receiver's short answer; the rest is not read. */
export const WEBHOOK_MAX_RESPONSE_BYTES = 4_096;

export interface WebhookWorkerOptions {
  repository: Pick<WebhooksRepository, 'claim' | 'delivered' | 'defer' | 'fail' | 'release' | 'prune'>;
  resolve: ResolveAddresses;
  allowPrivate: boolean;
  policy: RetryPolicy;
  logger: Logger;
  /** The POST itself (deliver.ts); a fake in unit tests. */
  post?: (request: WebhookRequest, options: { signal: AbortSignal }) => Promise<PostOutcome>;
  batchSize?: number;
  /** How often the outbox is looked at (events are queued by SQL, in any replica). */
  pollMs?: number;
  /** Delivered and given-up events are removed after this long. */
  keepMs?: number;
}

export interface WebhookBatch {
  readonly claimed: number;
  readonly delivered: number;
  readonly deferred: number;
  readonly failed: number;
}

export interface WebhookWorker {
  runOnce(): Promise<WebhookBatch>;
  start(): void;
  /** Cuts the posts in flight; their events are due again at once. */
  stop(): Promise<void>;
}

const PRUNE_EVERY_MS = 10 * 60_000;

export function createWebhookWorker(options: WebhookWorkerOptions): WebhookWorker {
  const log = options.logger.child({ component: 'webhooks' });
  const batchSize = options.batchSize ?? 10;
  const pollMs = options.pollMs ?? 1_000;
  const keepMs = options.keepMs ?? 30 * 86_400_000;
  // Longer than a resolve plus a post at its slowest.
  const leaseMs = 60_000;
  const post =
    options.post ??
    ((request, { signal }) =>
      postWebhook(request, {
        timeoutMs: WEBHOOK_TIMEOUT_MS,
        maxResponseBytes: WEBHOOK_MAX_RESPONSE_BYTES,
        signal,
      }));
  const abort = new AbortController();
  let stopping = false;
  let running: Promise<WebhookBatch> | undefined;
  let loop: Promise<void> | undefined;
  let wakeUp: (() => void) | undefined;
  let lastPrune = 0;

  /** One attempt: what the receiver said, or why it was not asked. */
  const attempt = async (event: ClaimedWebhookEvent): Promise<PostOutcome> => {
    const checked = checkWebhookUrl(event.url);
    if (!checked.ok) return { ok: false, httpStatus: null, error: checked.reason };
    const target = await resolveTarget(checked.url, {
      resolve: options.resolve,
      allowPrivate: options.allowPrivate,
    });
    if (!target.ok) return { ok: false, httpStatus: null, error: `refused: ${target.reason}` };
    const body = webhookBody({
      event: event.event,
      hostname: `${event.name}.${event.zone}`,
      old: event.old,
      new: event.new,
      at: event.at,
    });
    return post(
      {
        url: checked.url,
        address: target.address,
        body,
        headers: {
          'x-mydns-signature': signatureOf(secretText(event.secret), body),
          'x-mydns-event': event.event,
          'x-mydns-delivery': event.deliveryId,
        },
      },
      { signal: abort.signal },
    );
  };

  const settle = async (event: ClaimedWebhookEvent, report: Counts) => {
    if (stopping) {
      await options.repository.release([event.id]);
      return;
    }
    let outcome: PostOutcome;
    try {
      outcome = await attempt(event);
    } catch (error) {
      outcome = { ok: false, httpStatus: null, error: errorMessage(error) };
    }
    const result: WebhookAttempt = {
      httpStatus: outcome.httpStatus,
      error: outcome.ok ? null : outcome.error,
    };
    const who = {
      id: event.deliveryId,
      host: `${event.name}.${event.zone}`,
      event: event.event,
      target: urlForLog(event.url),
      attempts: event.attempts,
      httpStatus: outcome.httpStatus,
    };
    if (outcome.ok) {
      await options.repository.delivered(event.id, result);
      report.delivered++;
      log.info('webhook delivered', who);
      return;
    }
    if (stopping && outcome.error === 'stopped') {
      await options.repository.release([event.id]);
      return;
    }
    const next = nextRetry(event, options.policy);
    if (next.kind === 'defer') {
      await options.repository.defer(event.id, next.delayMs, result);
      report.deferred++;
      log.log(event.attempts === 1 ? 'info' : 'debug', 'webhook not delivered yet; trying again later', {
        ...who,
        retryInSeconds: next.delayMs / 1000,
        reason: outcome.error,
      });
    } else {
      await options.repository.fail(event.id, result);
      report.failed++;
      log.warn('webhook not delivered within an hour; given up', { ...who, reason: outcome.error });
    }
  };

  const runBatch = async (): Promise<WebhookBatch> => {
    const events = await options.repository.claim(batchSize, leaseMs);
    const report: Counts = { claimed: events.length, delivered: 0, deferred: 0, failed: 0 };
    // Receivers are independent: one that hangs delays only its own event.
    await Promise.all(events.map((event) => settle(event, report)));
    return report;
  };

  const runOnce = () => {
    running ??= runBatch().finally(() => {
      running = undefined;
    });
    return running;
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        wakeUp = undefined;
        resolve();
      }
      wakeUp = done;
    });

  const work = async () => {
    while (!stopping) {
      try {
        const report = await runOnce();
        if (report.claimed >= batchSize) continue;
        if (Date.now() - lastPrune > PRUNE_EVERY_MS) {
          lastPrune = Date.now();
          await options.repository.prune(keepMs);
        }
      } catch (error) {
        // Postgres away: the events wait in it; look again later.
        log.warn(`webhook outbox unavailable: ${errorMessage(error)}`);
      }
      if (!stopping) await sleep(pollMs);
    }
  };

  return {
    runOnce,
    start() {
      loop ??= work().catch((error: unknown) => {
        log.error('the webhook worker stopped', error);
      });
    },
    async stop() {
      stopping = true;
      abort.abort();
      wakeUp?.();
      await running?.catch(() => undefined);
      await loop;
    },
  };
}

type Counts = { -readonly [K in keyof WebhookBatch]: WebhookBatch[K] };
