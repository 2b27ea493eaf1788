import type { Knex } from 'knex';

/**
 * Sign-in sessions of the web pages. The cookie carries a random token; only
 * its SHA-256 is stored, with the CSRF secret of the session's forms.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('sessions', (t) => {
    t.bigIncrements('id').primary();
    t.binary('token_hash').notNullable().unique();
    t.bigInteger('host_id').notNullable().references('hosts.id').onDelete('CASCADE');
    t.text('csrf').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.index(['host_id']);
    t.index(['expires_at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('sessions');
}
