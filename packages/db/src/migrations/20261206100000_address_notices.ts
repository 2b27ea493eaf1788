import type { Knex } from 'knex';

/**
 * Address-change notices by mail (README "Accounts", "Notices"): a host of an
 * account may have them on (`notify_email`). The update path writes nothing
 * for them: a worker compares each such host's address with the one it last
 * told (`notified_ipv4/6`) and mails the difference, at most once per host per
 * `notified_at` + 10 minutes, collecting what happened meanwhile.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table hosts
      add column notify_email boolean not null default false,
      add column notified_ipv4 text,
      add column notified_ipv6 text,
      add column notified_at timestamptz
  `);
  // The worker's scan reads only the few hosts with notices on.
  await knex.raw('create index hosts_notify_email on hosts (id) where notify_email');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table hosts
      drop column notify_email,
      drop column notified_ipv4,
      drop column notified_ipv6,
      drop column notified_at
  `);
}
