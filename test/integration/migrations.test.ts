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
      'account_links',
      'account_recovery_codes',
      'account_tokens',
      'accounts',
      'acme_challenges',
      'app_secrets',
      'dns_outbox',
      'host_records',
      'host_webhooks',
      'hosts',
      'login_failures',
      'mail_outbox',
      'name_quarantine',
      'sessions',
      'update_history',
      'update_tokens',
      'webhook_events',
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

    // Down to zones (the later migrations first), then not while alice is in two zones.
    for (;;) {
      const [done] = (await db.migrate.list(config)) as [{ name?: string; file?: string }[], unknown];
      const last = done.at(-1);
      if ((last?.name ?? last?.file) === '20261204100000_zones') break;
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

/**
 * Accounts (migration 20261206090000) on a database with hosts: they stay as
 * they were (no account, their own password), forward and back. Back, a host
 * made in an account stays too (without a password: the operator's
 * `host password` gives it one); sessions of accounts go.
 */
test('accounts: existing hosts untouched forward and back; a host made in an account survives the way back', async () => {
  const name = `ma_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: harness().postgresUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(harness().postgresUrl);
  url.pathname = `/${name}`;
  const db = createDatabase({ url: url.toString(), poolMax: 1 });
  const config = { migrationSource: migrationSourceFor({}), tableName: 'knex_migrations' };
  const HOST_COLUMNS = ['id', 'zone', 'name', 'password_hash', 'ipv4', 'status', 'credential_version'];
  try {
    for (;;) {
      const [, pending] = (await db.migrate.list(config)) as [unknown, { name?: string; file?: string }[]];
      const next = pending[0]?.name ?? pending[0]?.file;
      assert.ok(next, 'the accounts migration is pending');
      if (next === '20261206090000_accounts') break;
      await db.migrate.up(config);
    }
    await db('hosts').insert([
      { zone: 'a.example', name: 'alice', password_hash: '$2b$04$alice', ipv4: '192.0.2.1' },
      { zone: 'a.example', name: 'bob', password_hash: '$2b$04$bob' },
    ]);
    const [aliceId] = (await db('hosts').where({ name: 'alice' }).select('id')).map((row) => row.id);
    await db('sessions').insert({
      token_hash: Buffer.alloc(32, 1),
      host_id: aliceId,
      csrf: 'c',
      expires_at: new Date(Date.now() + 60_000),
    });
    const before = await db('hosts').select(HOST_COLUMNS).orderBy('name');

    await db.migrate.up(config);
    assert.deepEqual(await db('hosts').select(HOST_COLUMNS).orderBy('name'), before);
    assert.deepEqual(
      (await db('hosts').select('account_id')).map((row) => row.account_id),
      [null, null],
    );
    const [account] = await db('accounts')
      .insert({ email: 'Carol@Example.org', password_hash: '$2b$04$carol' })
      .returning('id');
    await assert.rejects(
      db('accounts').insert({ email: 'carol@example.ORG', password_hash: 'x' }),
      /accounts_email_unique/,
      'an address is unique in any case',
    );
    await db('hosts').insert({ zone: 'a.example', name: 'carol', password_hash: '', account_id: account.id });
    await db('sessions').insert({
      token_hash: Buffer.alloc(32, 2),
      account_id: account.id,
      csrf: 'c',
      expires_at: new Date(Date.now() + 60_000),
    });
    await assert.rejects(
      db('sessions').insert({ token_hash: Buffer.alloc(32, 3), csrf: 'c', expires_at: new Date() }),
      /sessions_owner/,
      "a session is a host's or an account's",
    );

    await db.migrate.down(config);
    assert.deepEqual(
      await db('hosts').select(HOST_COLUMNS).whereNot({ name: 'carol' }).orderBy('name'),
      before,
    );
    assert.equal((await db('hosts').where({ name: 'carol' }).first('password_hash')).password_hash, '');
    assert.equal(Number((await db('sessions').count<{ count: string }[]>({ count: '*' }))[0]?.count), 1);
    assert.equal((await db('hosts').columnInfo()).account_id, undefined);
    await db.migrate.up(config);
    assert.deepEqual(
      await db('hosts').select(HOST_COLUMNS).whereNot({ name: 'carol' }).orderBy('name'),
      before,
    );
  } finally {
    await db.destroy();
    await admin.query(`drop database ${name} with (force)`);
    await admin.end();
  }
});
