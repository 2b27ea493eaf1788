import type { Knex } from 'knex';

/**
 * The first schema: hosts and everything the later features hang off them
 * (update tokens, history, ACME TXT values), plus the DNS outbox that carries
 * pending pushes to PowerDNS. Never edit this file once it has landed: add a
 * new migration instead.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.createTable('hosts', (t) => {
    t.bigIncrements('id').primary();
    t.text('name').notNullable().unique();
    t.text('password_hash').notNullable();
    t.text('contact_email');
    // Canonical text (dotted quad, RFC 5952): what PowerDNS serves and what
    // replies echo. The checks keep the families apart.
    t.text('ipv4');
    t.text('ipv6');
    t.text('status').notNullable().defaultTo('active');
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('address_changed_at', { useTz: true });
    t.timestamp('last_seen_at', { useTz: true });
    t.timestamp('password_changed_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.boolean('mail_enabled').notNullable().defaultTo(false);
    t.integer('mail_port');
    t.text('mail_client_address').notNullable().defaultTo('xclient');
    t.text('mail_tls').notNullable().defaultTo('opportunistic');
  });
  await knex.raw(`
    alter table hosts
      add constraint hosts_name_label check (name ~ '^[a-z0-9-]{1,63}$' and name !~ '^-|-$'),
      add constraint hosts_ipv4_family check (ipv4 is null or family(ipv4::inet) = 4),
      add constraint hosts_ipv6_family check (ipv6 is null or family(ipv6::inet) = 6),
      add constraint hosts_status check (status in ('active', 'dormant', 'disabled')),
      add constraint hosts_mail_port check (mail_port is null or mail_port between 1 and 65535),
      add constraint hosts_mail_client_address check (mail_client_address in ('xclient', 'proxy-v2', 'none')),
      add constraint hosts_mail_tls check (mail_tls in ('opportunistic', 'fingerprint', 'verify', 'none'))
  `);
  // The monthly-activity job scans by last activity.
  await knex.raw("create index hosts_last_seen_at on hosts (last_seen_at) where status = 'active'");

  await knex.schema.createTable('update_tokens', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('host_id').notNullable().references('hosts.id').onDelete('CASCADE');
    t.text('label').notNullable();
    t.binary('token_hash').notNullable().unique(); // SHA-256 of the token
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
    t.index(['host_id']);
  });

  await knex.schema.createTable('update_history', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('host_id').notNullable().references('hosts.id').onDelete('CASCADE');
    t.timestamp('at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.text('source_address').notNullable();
    t.text('user_agent');
    t.text('result').notNullable();
    t.text('old_ipv4');
    t.text('old_ipv6');
    t.text('new_ipv4');
    t.text('new_ipv6');
    t.index(['host_id', 'at']);
  });

  await knex.schema.createTable('acme_challenges', (t) => {
    t.bigIncrements('id').primary();
    t.bigInteger('host_id').notNullable().references('hosts.id').onDelete('CASCADE');
    t.text('value').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('expires_at', { useTz: true }).notNullable();
    t.unique(['host_id', 'value']);
  });

  // The pending-push marker: a row per committed change, written in the same
  // statement as the change, deleted once PowerDNS has accepted it. `name` is
  // the host label, not a foreign key: a deleted host still needs its records
  // removed.
  await knex.schema.createTable('dns_outbox', (t) => {
    t.bigIncrements('id').primary();
    t.text('name').notNullable();
    t.timestamp('queued_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('dns_outbox');
  await knex.schema.dropTable('acme_challenges');
  await knex.schema.dropTable('update_history');
  await knex.schema.dropTable('update_tokens');
  await knex.schema.dropTable('hosts');
}
