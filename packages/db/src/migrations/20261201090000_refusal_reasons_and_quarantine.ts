import type { Knex } from 'knex';

/**
 * Two things a public service needs (README "Security"):
 * - `update_history.reason`: why an update was refused, in a person's words
 *   ("no public address: the request came from 127.0.0.1"), so the dashboard can
 *   say it instead of only the server log.
 * - `name_quarantine`: a deleted host's name stays unregistrable until
 *   `available_at` (MYDNS_NAME_QUARANTINE_DAYS; never, for a host the operator
 *   had disabled), so mail routed by a custom domain's MX or an `_acme-challenge`
 *   CNAME pointing at the old name does not pass to the next registrant at once.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('update_history', (t) => {
    t.text('reason');
  });
  await knex.schema.createTable('name_quarantine', (t) => {
    t.text('name').primary();
    t.timestamp('deleted_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    // 'infinity' for a name the operator had disabled.
    t.timestamp('available_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('name_quarantine');
  await knex.schema.alterTable('update_history', (t) => {
    t.dropColumn('reason');
  });
}
