import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabase, migrateLatest, rollbackAll } from '@mydns/db';
import pg from 'pg';
import { harness } from '../support/harness.ts';

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
