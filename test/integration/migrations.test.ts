import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabase, migrateLatest, migrationSourceFor, rollbackAll } from '@mydns/db';
import { createLogger } from '@mydns/runtime';
import pg from 'pg';
import { harness } from '../support/harness.ts';
import { waitFor } from '../support/wait.ts';

/** Migrations on an empty database: latest → rollback all → latest (a migration that cannot be undone, or redone, is found here, not in production). */
test('latest, rollback all, latest on an empty database', async () => {
  const name = `m_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: harness().postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(harness().postgresUrl);
  url.pathname = `/${name}`;
  const db = createDatabase({ url: url.toString(), poolMax: 1 });
  const tables = async () =>
    (
      await db.raw<{ rows: { tablename: string }[] }>(
        "select tablename from pg_tables where schemaname = 'public' and tablename not like 'knex%' order by 1",
      )
    ).rows.map((row) => row.tablename);
  try {
    const applied = await migrateLatest(db);
    assert.ok(applied.length >= 1);
    assert.deepEqual(await tables(), [
      'acme_challenges',
      'app_secrets',
      'dns_outbox',
      'host_records',
      'hosts',
      'login_failures',
      'mail_outbox',
      'name_quarantine',
      'sessions',
      'update_history',
      'update_tokens',
    ]);
    const reverted = await rollbackAll(db);
    assert.deepEqual(reverted.sort(), applied.sort());
    assert.deepEqual(await tables(), []);
    assert.deepEqual(await migrateLatest(db), applied);
    assert.deepEqual(await migrateLatest(db), [], 'a second run applies nothing');
  } finally {
    await db.destroy();
    await admin.query(`drop database ${name} with (force)`);
    await admin.end();
  }
});

/**
 * The upgrade to several zones (migration 20261204100000) on a database with
 * hosts: they go to the default zone the one running the migration names
 * (migrations do not read settings); without one it refuses rather than guess.
 * Down goes back to one zone, refusing while a label is in two zones.
 */
test('zones: existing hosts go to the default zone given; labels are unique per zone; notifications name label.zone', async () => {
  const name = `mz_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: harness().postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(harness().postgresUrl);
  url.pathname = `/${name}`;
  // The refusals below are expected: knex's report of them stays out of the test output.
  const db = createDatabase({
    url: url.toString(),
    poolMax: 1,
    logger: createLogger({ level: 'error', format: 'pretty', silent: true }),
  });
  const config = { migrationSource: migrationSourceFor({}), tableName: 'knex_migrations' };
  const listener = new pg.Client({ connectionString: url.toString() });
  try {
    // Every migration before zones, one at a time.
    for (;;) {
      const [, pending] = (await db.migrate.list(config)) as [unknown, { name?: string; file?: string }[]];
      const next = pending[0]?.name ?? pending[0]?.file;
      assert.ok(next, 'the zones migration is pending');
      if (next === '20261204100000_zones') break;
      await db.migrate.up(config);
    }
    await db('hosts').insert([
      { name: 'alice', password_hash: 'x' },
      { name: 'bob', password_hash: 'x' },
    ]);
    await db('dns_outbox').insert({ name: 'alice' });
    await db('name_quarantine').insert({ name: 'gone', available_at: 'infinity' });

    await assert.rejects(migrateLatest(db), /needs the default zone for the existing hosts/);
    assert.equal((await migrateLatest(db, { defaultZone: 'old.example' }))[0], '20261204100000_zones');
    const zones = async (table: string) =>
      (await db(table).select('zone', 'name').orderBy('name')).map((row) => `${row.name}.${row.zone}`);
    assert.deepEqual(await zones('hosts'), ['alice.old.example', 'bob.old.example']);
    assert.deepEqual(await zones('dns_outbox'), ['alice.old.example']);
    assert.deepEqual(await zones('name_quarantine'), ['gone.old.example']);

    // The same label in another zone is another host; twice in one zone is not.
    await db('hosts').insert({ zone: 'new.example', name: 'alice', password_hash: 'x' });
    await assert.rejects(
      db('hosts').insert({ zone: 'new.example', name: 'alice', password_hash: 'x' }),
      /hosts_zone_name_unique/,
    );

    // A change names the host in full; a move to another zone names both.
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (message) => payloads.push(message.payload ?? ''));
    await listener.query('listen mydns_hosts');
    await db('hosts').where({ zone: 'old.example', name: 'bob' }).update({ status: 'disabled' });
    await db('hosts').where({ zone: 'old.example', name: 'bob' }).update({ zone: 'new.example' });
    await waitFor(() => payloads.length >= 3, { message: 'three notifications', timeoutMs: 5000 });
    assert.deepEqual(payloads, ['bob.old.example', 'bob.old.example', 'bob.new.example']);

    // Down: not while alice is in two zones (the migrations after zones undone first).
    for (;;) {
      const [done] = (await db.migrate.list(config)) as [{ name: string }[], unknown];
      if (done[done.length - 1]?.name === '20261204100000_zones') break;
      await db.migrate.down(config);
    }
    await assert.rejects(db.migrate.down(config), /these labels exist in several zones: alice;/);
    await db('hosts').where({ zone: 'new.example', name: 'alice' }).delete();
    await db.migrate.down(config);
    const columns = await db('hosts').columnInfo();
    assert.equal(columns.zone, undefined);
    assert.deepEqual(
      (await db('hosts').select('name').orderBy('name')).map((row) => row.name),
      ['alice', 'bob'],
    );
  } finally {
    await listener.end().catch(() => undefined);
    await db.destroy();
    await admin.query(`drop database ${name} with (force)`);
    await admin.end();
  }
});
