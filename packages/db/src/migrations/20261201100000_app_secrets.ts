import type { Knex } from 'knex';

/**
 * Secrets every API replica must share, created once by the first start:
 * `csrf` signs the pre-sign-in CSRF cookie (apps/api/src/web/sessions.ts), so a
 * value the browser did not get from us (a cookie tossed by a site under the
 * zone) is refused by every replica alike.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('app_secrets', (t) => {
    t.text('name').primary();
    t.binary('value').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('app_secrets');
}
