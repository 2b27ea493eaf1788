import type { Knex } from 'knex';

/**
 * Records beyond the host's address (docs/interfaces.md, "Records beyond the
 * host's address"): the owner's records (`host_records`, replaced as a whole
 * set), the wildcard `*.<host>`, and the /64 that interface-identifier AAAA
 * records follow (`ipv6_prefix`; null: the /64 of the host's own AAAA).
 *
 * A PUT that drops a name, a deleted host and a zone move leave records in
 * PowerDNS that the host's rows no longer name: the outbox row carries those
 * rrsets (`stale`, `TYPE:subname`), and the zone writer removes whatever of
 * them the current rows do not want.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    alter table hosts
      add column wildcard boolean not null default false,
      add column ipv6_prefix text,
      add constraint hosts_ipv6_prefix_64 check (
        ipv6_prefix is null or (family(ipv6_prefix::cidr) = 6 and masklen(ipv6_prefix::cidr) = 64))
  `);
  await knex.raw(`
    create table host_records (
      id bigserial primary key,
      host_id bigint not null references hosts (id) on delete cascade,
      subname text not null check (subname ~ '^[a-z0-9_.-]{0,253}$'),
      type text not null check (type in ('A', 'AAAA', 'CAA', 'CNAME', 'MX', 'SRV', 'TXT')),
      content text not null check (length(content) between 1 and 2048),
      ttl integer not null check (ttl between 60 and 86400)
    )
  `);
  await knex.raw('create index host_records_host_id on host_records (host_id, id)');
  await knex.raw('alter table dns_outbox add column stale text[]');
}

export async function down(knex: Knex): Promise<void> {
  // Whatever PowerDNS still holds of the records is removed by the reconciler of the older version.
  await knex.raw('alter table dns_outbox drop column stale');
  await knex.raw('drop table host_records');
  await knex.raw(`
    alter table hosts
      drop constraint hosts_ipv6_prefix_64,
      drop column ipv6_prefix,
      drop column wildcard
  `);
}
