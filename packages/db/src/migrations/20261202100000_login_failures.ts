import type { Knex } from 'knex';

/**
 * Failed logins counted by every API replica together (apps/api/src/auth/
 * login-guard.ts): a row per limit key (a source, or a source and a host),
 * with its window and the block it may be under. Only failures are written,
 * so a repeated update (nochg) costs no round trip for it.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('login_failures', (t) => {
    t.text('key').primary();
    t.timestamp('window_start', { useTz: true }).notNullable();
    t.integer('failures').notNullable();
    t.timestamp('blocked_until', { useTz: true });
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('login_failures');
}
