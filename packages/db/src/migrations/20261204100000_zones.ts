import type { Knex } from 'knex';
import type { MigrationContext } from './context.ts';

/**
 * Several zones (MYDNS_ZONES): a host is (zone, label), and the same label may
 * exist in each zone. So do the rows that name a host without a foreign key:
 * the outbox of pending pushes (a host in zone A and one named the same in
 * zone B are different records) and the name quarantine. Host change
 * notifications (20261127130000) carry the full name, `label.zone`, so the
 * caches keyed by it drop the right host.
 *
 * Existing rows go to the default zone. A migration does not read the
 * settings, so whoever runs it says which zone that is (`migrateLatest(db,
 * { defaultZone })`: `npm start` and `npm run cli` pass the first of
 * MYDNS_ZONES). A database with rows and no zone given is refused rather
 * than guessed at: a guess would move every host into a zone that may not be
 * served, which is the silent move this change exists to stop.
 */
export async function up(knex: Knex, context: MigrationContext = {}): Promise<void> {
  const zone = context.defaultZone;
  if (zone === undefined) {
    const { rows } = await knex.raw<{ rows: { any: boolean }[] }>(
      `select exists (select 1 from hosts) or exists (select 1 from dns_outbox)
              or exists (select 1 from name_quarantine) as any`,
    );
    if (rows[0]?.any) {
      throw new Error(
        'migration 20261204100000_zones needs the default zone for the existing hosts: run it through `npm start` or `npm run cli -- migrate`, which read MYDNS_ZONE(S)',
      );
    }
  }
  for (const table of ['hosts', 'dns_outbox', 'name_quarantine']) {
    await knex.raw(`alter table ${table} add column zone text`);
    if (zone !== undefined) await knex.raw(`update ${table} set zone = ?`, [zone]);
    await knex.raw(`alter table ${table} alter column zone set not null`);
  }
  await knex.raw(`
    alter table hosts
      drop constraint hosts_name_unique,
      add constraint hosts_zone_name_unique unique (zone, name),
      add constraint hosts_zone_name check (zone ~ '^[a-z0-9.-]{1,253}$')
  `);
  await knex.raw(`
    alter table name_quarantine
      drop constraint name_quarantine_pkey,
      add constraint name_quarantine_pkey primary key (zone, name)
  `);
  // Each zone's writer reads only its zone's pending rows, oldest first.
  await knex.raw('create index dns_outbox_zone_id on dns_outbox (zone, id)');
  // A host that changes zone (`zone move`) is announced under its new name as
  // well: the relay remembers "no such host" for a while, and must forget that too.
  await knex.raw(`
    create or replace function mydns_notify_host_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('mydns_hosts', old.name || '.' || old.zone);
      if tg_op = 'UPDATE' and (new.name, new.zone) is distinct from (old.name, old.zone) then
        perform pg_notify('mydns_hosts', new.name || '.' || new.zone);
      end if;
      return null;
    end
    $$
  `);
}

export async function down(knex: Knex): Promise<void> {
  // One zone again: a label in several zones cannot be kept, and is not silently dropped.
  const { rows } = await knex.raw<{ rows: { name: string }[] }>(
    'select name from hosts group by name having count(*) > 1 order by name limit 5',
  );
  if (rows.length > 0) {
    throw new Error(
      `cannot go back to one zone: these labels exist in several zones: ${rows.map((row) => row.name).join(', ')}; delete one of each first`,
    );
  }
  await knex.raw(`
    create or replace function mydns_notify_host_change() returns trigger language plpgsql as $$
    begin
      perform pg_notify('mydns_hosts', old.name);
      return null;
    end
    $$
  `);
  await knex.raw('drop index dns_outbox_zone_id');
  await knex.raw(`
    delete from name_quarantine q using name_quarantine newer
     where q.name = newer.name
       and (q.available_at, q.zone) < (newer.available_at, newer.zone)
  `);
  await knex.raw(`
    alter table name_quarantine
      drop constraint name_quarantine_pkey,
      add constraint name_quarantine_pkey primary key (name)
  `);
  await knex.raw(`
    alter table hosts
      drop constraint hosts_zone_name,
      drop constraint hosts_zone_name_unique,
      add constraint hosts_name_unique unique (name)
  `);
  for (const table of ['hosts', 'dns_outbox', 'name_quarantine']) {
    await knex.raw(`alter table ${table} drop column zone`);
  }
}
