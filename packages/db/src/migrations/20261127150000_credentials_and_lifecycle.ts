import type { Knex } from 'knex';

/**
 * - `hosts.credential_version`: bumped whenever a credential stops being valid
 *   (password change, token revoked). Caches of verified credentials are bound
 *   to it, and the row change is announced (mydns_hosts), so every replica
 *   forgets a revoked token at once.
 * - `hosts.mail_tls_fingerprint`: the SHA-256 a host's mail server certificate
 *   is pinned to when its mail TLS mode is `fingerprint`.
 * - Indexes for the maintenance job: expired ACME values, history by age.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('hosts', (t) => {
    t.integer('credential_version').notNullable().defaultTo(0);
    t.text('mail_tls_fingerprint');
  });
  await knex.schema.alterTable('acme_challenges', (t) => {
    t.index(['expires_at']);
  });
  await knex.schema.alterTable('update_history', (t) => {
    t.index(['at']);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('update_history', (t) => {
    t.dropIndex(['at']);
  });
  await knex.schema.alterTable('acme_challenges', (t) => {
    t.dropIndex(['expires_at']);
  });
  await knex.schema.alterTable('hosts', (t) => {
    t.dropColumn('credential_version');
    t.dropColumn('mail_tls_fingerprint');
  });
}
