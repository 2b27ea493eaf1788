import type { Knex } from 'knex';

/**
 * Every change to a host row is announced on the channel `mydns_hosts` (the
 * payload is the host name), so API replicas can drop what they cached about
 * it (host-cache.ts).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function mydns_notify_host_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('mydns_hosts', old.name);
      return null;
    end
    $$
  `);
  await knex.raw(`
    create trigger hosts_notify_change after update or delete on hosts
    for each row execute function mydns_notify_host_change()
  `);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop trigger hosts_notify_change on hosts');
  await knex.raw('drop function mydns_notify_host_change()');
}
