import type { Knex } from 'knex';

/**
 * Repeated identical `nochg` attempts (same source, client and addresses, an
 * hour apart at most) are counted on one history row instead of adding a row
 * each: a router every five minutes is one line a day-part, not 288 a day.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('update_history', (t) => {
    t.integer('count').notNullable().defaultTo(1);
    t.timestamp('last_at', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('update_history', (t) => {
    t.dropColumn('count');
    t.dropColumn('last_at');
  });
}
