import type { Knex } from 'knex';

/**
 * The outbox of outbound mail (README "Mail"). A mail is a row, committed
 * with the change that causes it (in the same transaction when there is
 * one); the API's mail worker sends it through the smarthost, in any
 * replica (`for update skip locked`), retrying with backoff.
 *
 * - `message`: the whole RFC 5322 text; emptied (null) once the mail is sent
 *   or given up, so links with tokens do not stay around in the history.
 * - `dedupe_key`: a second mail with the same key is not queued while the
 *   first row is kept (queued, sent or given up).
 * - `next_attempt_at`: when a queued mail is due; a worker that claims it
 *   pushes it forward for as long as its attempt may take (a lease: a worker
 *   that dies mid-send leaves the row to another after that).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('mail_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('kind').notNullable();
    t.text('recipient').notNullable();
    t.text('dedupe_key').unique();
    t.text('message');
    t.text('status').notNullable().defaultTo('queued');
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('last_error');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('finished_at', { useTz: true });
  });
  await knex.raw(`
    alter table mail_outbox
      add constraint mail_outbox_status check (status in ('queued', 'sent', 'failed')),
      add constraint mail_outbox_message check ((status = 'queued') = (message is not null))
  `);
  await knex.raw("create index mail_outbox_due on mail_outbox (next_attempt_at) where status = 'queued'");
  await knex.raw("create index mail_outbox_finished on mail_outbox (finished_at) where status <> 'queued'");
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('mail_outbox');
}
