import type { Knex } from 'knex';

/**
 * Dormancy mails (README "Accounts", "Notices"): a host with `notify_email`
 * gets a warning some days before it goes dormant and a notice when it does.
 * A period of inactivity is named by the host's last activity
 * (`coalesce(last_seen_at, created_at)`); each column holds the period its
 * mail was sent for, so an update (a new `last_seen_at`) starts a new period
 * without the update path writing anything for it, and claiming a mail is one
 * conditional UPDATE (two replicas cannot both send it).
 *
 * The partial indexes hold only the hosts with a mail still due in their
 * period, so the maintenance pass finds them without reading every host.
 * Hosts already dormant count as told: they went dormant before there was
 * anything to tell.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table hosts
      add column dormancy_warned_for timestamptz,
      add column dormancy_told_for timestamptz
  `);
  await knex.raw(
    "update hosts set dormancy_told_for = coalesce(last_seen_at, created_at) where status = 'dormant'",
  );
  await knex.raw(`
    create index hosts_dormancy_warning_due on hosts ((coalesce(last_seen_at, created_at)))
     where notify_email and status = 'active'
       and dormancy_warned_for is distinct from coalesce(last_seen_at, created_at)
  `);
  await knex.raw(`
    create index hosts_dormancy_notice_due on hosts (id)
     where notify_email and status = 'dormant'
       and dormancy_told_for is distinct from coalesce(last_seen_at, created_at)
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('alter table hosts drop column dormancy_warned_for, drop column dormancy_told_for');
}
