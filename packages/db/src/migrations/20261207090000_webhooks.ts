import type { Knex } from 'knex';

/**
 * Host webhooks (README "Webhooks").
 *
 * - `host_webhooks`: a host's target URL and its signing secret (raw bytes,
 *   like an account's TOTP secret: it must stay usable for HMAC, so it is not
 *   hashed). One per host; gone with the host.
 * - `webhook_events`: the outbox of deliveries. A row is inserted by the
 *   statement that makes the change (an address change, a dormancy, a
 *   restore), so it commits exactly with it; the API's webhook worker posts
 *   it, in any replica (`for update skip locked`), retrying with backoff.
 *   `next_attempt_at` is a lease while an attempt runs, as in `mail_outbox`.
 *   `last_*` keep the last attempt's outcome for the dashboard.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('host_webhooks', (t) => {
    t.bigInteger('host_id').primary().references('hosts.id').onDelete('CASCADE');
    t.text('url').notNullable();
    t.binary('secret').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
  await knex.schema.createTable('webhook_events', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('delivery_id').notNullable().unique().defaultTo(knex.raw('gen_random_uuid()'));
    t.bigInteger('host_id').notNullable().references('hosts.id').onDelete('CASCADE');
    t.text('event').notNullable();
    t.text('old_ipv4');
    t.text('old_ipv6');
    t.text('new_ipv4');
    t.text('new_ipv6');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('status').notNullable().defaultTo('queued');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_attempt_at', { useTz: true });
    t.integer('last_http_status');
    t.text('last_error');
    t.timestamp('finished_at', { useTz: true });
  });
  await knex.raw(`
    alter table webhook_events
      add constraint webhook_events_event check (event in ('address_changed', 'dormant', 'restored')),
      add constraint webhook_events_status check (status in ('queued', 'delivered', 'failed'))
  `);
  await knex.raw(
    "create index webhook_events_due on webhook_events (next_attempt_at) where status = 'queued'",
  );
  await knex.raw('create index webhook_events_host on webhook_events (host_id, last_attempt_at)');
  await knex.raw(
    "create index webhook_events_finished on webhook_events (finished_at) where status <> 'queued'",
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('webhook_events');
  await knex.schema.dropTable('host_webhooks');
}
