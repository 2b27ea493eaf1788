import type { Database } from './database.ts';
import { createOutboxRows, intervalSeconds } from './outbox-rows.ts';

/**
 * Host webhooks (migration 20261207090000): each host's target and secret,
 * and the outbox of events to deliver. Events are queued by the statements
 * that change a host (address-changes.ts, hosts-repository.ts), with
 * `QUEUE_WEBHOOK_EVENTS`; the API's worker claims and settles them here.
 * Times are Postgres's (`now()`), as in the mail outbox.
 */
export type WebhookEventKind = 'address_changed' | 'dormant' | 'restored';

export interface Addresses {
  readonly ipv4: string | null;
  readonly ipv6: string | null;
}

export interface ClaimedWebhookEvent {
  readonly id: number;
  /** The same for every attempt of the event: receivers drop duplicates by it. */
  readonly deliveryId: string;
  readonly event: WebhookEventKind;
  readonly zone: string;
  readonly name: string;
  readonly old: Addresses;
  readonly new: Addresses;
  /** When the change happened (Postgres's clock). */
  readonly at: Date;
  readonly url: string;
  readonly secret: Buffer;
  /** Attempts so far, this one included. */
  readonly attempts: number;
  /** How long ago the event was queued, by Postgres's clock. */
  readonly ageMs: number;
}

/** The outcome of one attempt: the receiver's HTTP status, or why there was none. */
export interface WebhookAttempt {
  readonly httpStatus: number | null;
  readonly error: string | null;
}

export interface WebhookDelivery {
  readonly event: WebhookEventKind;
  readonly at: Date;
  readonly status: 'queued' | 'delivered' | 'failed';
  readonly httpStatus: number | null;
  readonly error: string | null;
}

export interface WebhooksRepository {
  /** Sets the host's target and secret (a new secret every time). */
  set(hostId: number, url: string, secret: Buffer): Promise<void>;
  /** Removes the target; its queued events are dropped (there is nowhere to send them). */
  clear(hostId: number): Promise<void>;
  url(hostId: number): Promise<string | undefined>;
  /** The last attempt at any of the host's events; undefined before the first. */
  lastDelivery(hostId: number): Promise<WebhookDelivery | undefined>;
  /** Takes up to `limit` due events no other worker holds and leases them for `leaseMs`. */
  claim(limit: number, leaseMs: number): Promise<ClaimedWebhookEvent[]>;
  delivered(id: number, attempt: WebhookAttempt): Promise<void>;
  /** Due again in `delayMs`. */
  defer(id: number, delayMs: number, attempt: WebhookAttempt): Promise<void>;
  /** Given up, kept for the dashboard. */
  fail(id: number, attempt: WebhookAttempt): Promise<void>;
  /** Claimed but not attempted (the worker stops): due now, the attempt not counted. */
  release(ids: readonly number[]): Promise<void>;
  /** Removes delivered and given-up events finished more than `keepMs` ago. */
  prune(keepMs: number): Promise<number>;
}

/**
 * The events of an address change, as a CTE to add to a statement whose CTE
 * `changed` returns each written host's `id`, `old_status`, `old_ipv4`,
 * `old_ipv6`, `ipv4` and `ipv6`: the events commit with the change, in the
 * same statement (one round trip on the update's path, a primary-key probe
 * of `host_webhooks` per written host). A dormant host that updates is
 * `restored` (its addresses come back), then `address_changed` when they differ.
 */
export const QUEUE_WEBHOOK_EVENTS = `webhook_events_queued as (
    insert into webhook_events (host_id, event, old_ipv4, old_ipv6, new_ipv4, new_ipv6)
    select changed.id, e.event, e.old_ipv4, e.old_ipv6, changed.ipv4, changed.ipv6
      from changed
      join host_webhooks w on w.host_id = changed.id
     cross join lateral (values
       (1, 'restored', changed.old_status = 'dormant', null::text, null::text),
       (2, 'address_changed',
        changed.ipv4 is distinct from changed.old_ipv4 or changed.ipv6 is distinct from changed.old_ipv6,
        changed.old_ipv4, changed.old_ipv6)
     ) as e(ord, event, happened, old_ipv4, old_ipv6)
     where e.happened
     order by changed.id, e.ord
  )`;

/** The `dormant` events of hosts a CTE `expired` (`id`, `ipv4`, `ipv6`) made dormant: their addresses leave DNS. */
export const QUEUE_DORMANT_EVENTS = `webhook_events_queued as (
    insert into webhook_events (host_id, event, old_ipv4, old_ipv6)
    select expired.id, 'dormant', expired.ipv4, expired.ipv6
      from expired join host_webhooks w on w.host_id = expired.id
     order by expired.id
  )`;

export function createWebhooksRepository(db: Database): WebhooksRepository {
  const outboxRows = createOutboxRows(db, 'webhook_events');
  const settle = async (id: number, attempt: WebhookAttempt, change: Record<string, unknown>) => {
    await db('webhook_events')
      .where({ id, status: 'queued' })
      .update({
        last_attempt_at: db.fn.now(),
        last_http_status: attempt.httpStatus,
        last_error: attempt.error,
        ...change,
      });
  };
  return {
    async set(hostId, url, secret) {
      await db('host_webhooks')
        .insert({ host_id: hostId, url, secret })
        .onConflict('host_id')
        .merge({ url, secret, created_at: db.fn.now() });
    },
    async clear(hostId) {
      await db.transaction(async (trx) => {
        await trx('host_webhooks').where({ host_id: hostId }).delete();
        await trx('webhook_events').where({ host_id: hostId, status: 'queued' }).delete();
      });
    },
    async url(hostId) {
      const row = await db('host_webhooks').where({ host_id: hostId }).first<{ url: string }>('url');
      return row?.url;
    },
    async lastDelivery(hostId) {
      const row = await db('webhook_events')
        .where({ host_id: hostId })
        .whereNotNull('last_attempt_at')
        .orderBy([
          { column: 'last_attempt_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .first<
          | {
              event: WebhookEventKind;
              last_attempt_at: Date;
              status: WebhookDelivery['status'];
              last_http_status: number | null;
              last_error: string | null;
            }
          | undefined
        >('event', 'last_attempt_at', 'status', 'last_http_status', 'last_error');
      return row
        ? {
            event: row.event,
            at: row.last_attempt_at,
            status: row.status,
            httpStatus: row.last_http_status,
            error: row.last_error,
          }
        : undefined;
    },
    async claim(limit, leaseMs) {
      const { rows } = await db.raw<{
        rows: {
          id: number;
          delivery_id: string;
          event: WebhookEventKind;
          zone: string;
          name: string;
          old_ipv4: string | null;
          old_ipv6: string | null;
          new_ipv4: string | null;
          new_ipv6: string | null;
          created_at: Date;
          url: string;
          secret: Buffer;
          attempts: number;
          age_ms: number;
        }[];
      }>(
        // Oldest first within a host, so a receiver sees a host's events in order
        // unless one of them is being retried.
        `update webhook_events e
            set attempts = e.attempts + 1,
                next_attempt_at = now() + make_interval(secs => ?)
           from (select q.id from webhook_events q
                  join host_webhooks w on w.host_id = q.host_id
                  where q.status = 'queued' and q.next_attempt_at <= now()
                  order by q.next_attempt_at, q.id
                  limit ?
                  for update of q skip locked) due,
                host_webhooks w, hosts h
          where e.id = due.id and w.host_id = e.host_id and h.id = e.host_id
      returning e.id, e.delivery_id, e.event, h.zone, h.name, e.old_ipv4, e.old_ipv6, e.new_ipv4,
                e.new_ipv6, e.created_at, w.url, w.secret, e.attempts,
                (extract(epoch from now() - e.created_at) * 1000)::float8 as age_ms`,
        [intervalSeconds(leaseMs), Math.max(1, Math.floor(limit))],
      );
      return rows
        .map((row) => ({
          id: row.id,
          deliveryId: row.delivery_id,
          event: row.event,
          zone: row.zone,
          name: row.name,
          old: { ipv4: row.old_ipv4, ipv6: row.old_ipv6 },
          new: { ipv4: row.new_ipv4, ipv6: row.new_ipv6 },
          at: row.created_at,
          url: row.url,
          secret: row.secret,
          attempts: row.attempts,
          ageMs: row.age_ms,
        }))
        .sort((a, b) => a.id - b.id);
    },
    async delivered(id, attempt) {
      await settle(id, attempt, { status: 'delivered', finished_at: db.fn.now() });
    },
    async defer(id, delayMs, attempt) {
      await settle(id, attempt, {
        next_attempt_at: db.raw('now() + make_interval(secs => ?)', [intervalSeconds(delayMs)]),
      });
    },
    async fail(id, attempt) {
      await settle(id, attempt, { status: 'failed', finished_at: db.fn.now() });
    },
    release: outboxRows.release,
    prune: outboxRows.prune,
  };
}
