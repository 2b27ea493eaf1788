import type { Knex } from 'knex';

/**
 * The dormancy pass (apps/api/src/lifecycle/maintenance.ts) looks for active
 * hosts by `coalesce(last_seen_at, created_at)`, which the index on
 * `last_seen_at` alone cannot serve: every pass, once a minute, was a
 * sequential scan of all hosts (2.2 s at a million, README "Benchmarks").
 * This index holds exactly that expression for the active hosts, so a pass
 * reads only the hosts it expires. It replaces hosts_last_seen_at, which no
 * query used: updates keep maintaining one index of activity, not two.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(
    "create index hosts_active_since on hosts ((coalesce(last_seen_at, created_at))) where status = 'active'",
  );
  await knex.raw('drop index hosts_last_seen_at');
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw("create index hosts_last_seen_at on hosts (last_seen_at) where status = 'active'");
  await knex.raw('drop index hosts_active_since');
}
