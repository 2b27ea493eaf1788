import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * Two API replicas on one database: what one caches about a host is dropped as
 * soon as the other changes it (Postgres NOTIFY), so the cache never turns a
 * change into a stale `nochg`; and without its notification connection a
 * replica reads Postgres instead of trusting its memory.
 */

let first: TestMyDns;
let second: TestMyDns;
const PASSWORD = 'cache-password';

before(async () => {
  first = await startTestMyDns();
  // The second replica: same database, same zone, same PowerDNS.
  second = await startTestMyDns({ env: { DATABASE_URL: first.databaseUrl, MYDNS_ZONE: first.zone } });
});
after(async () => {
  await second?.stop();
  await first?.stop();
});

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/**
 * Repeats a nochg until the replica caches the host: the notification of the
 * preceding change may arrive while the first reload is in flight, and then
 * (correctly) that reload is not cached.
 */
async function warm(replica: TestMyDns, name: string, ip: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!replica.services.hostCache.holds(name)) {
    if (Date.now() > deadline) assert.fail(`${name} never got cached`);
    const reply = await replica.request(`/nic/update?hostname=${name}&myip=${ip}`, {
      auth: [name, PASSWORD],
    });
    assert.equal(reply.body, `nochg ${ip}`);
  }
}

test('a change through one replica evicts the host from the other replica’s cache', async () => {
  await first.createHost('shared', PASSWORD);
  const auth: [string, string] = ['shared', PASSWORD];
  assert.equal(
    (await second.request('/nic/update?hostname=shared&myip=198.51.100.1', { auth })).body,
    'good 198.51.100.1',
  );
  assert.equal(
    (await second.request('/nic/update?hostname=shared&myip=198.51.100.1', { auth })).body,
    'nochg 198.51.100.1',
  );
  assert.ok(second.services.hostCache.holds('shared'), 'the second replica caches the host after a nochg');

  assert.equal(
    (await first.request('/nic/update?hostname=shared&myip=198.51.100.2', { auth })).body,
    'good 198.51.100.2',
  );
  await until('the second replica drops the host', () => !second.services.hostCache.holds('shared'));
  // Going back to the first address through the second replica is a change, not a stale nochg.
  assert.equal(
    (await second.request('/nic/update?hostname=shared&myip=198.51.100.1', { auth })).body,
    'good 198.51.100.1',
  );
  assert.deepEqual(await first.query.a(`shared.${first.zone}`), ['198.51.100.1']);
});

test('without the notification connection nothing is cached, and it comes back', async () => {
  await first.createHost('resilient', PASSWORD);
  const auth: [string, string] = ['resilient', PASSWORD];
  await first.request('/nic/update?hostname=resilient&myip=198.51.100.3', { auth });
  await warm(first, 'resilient', '198.51.100.3');

  const admin = new pg.Client({ connectionString: first.databaseUrl });
  await admin.connect();
  try {
    await admin.query(
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'mydns-host-cache' and datname = current_database()",
    );
  } finally {
    await admin.end();
  }
  await until('the cache notices the lost connection', () => !first.services.hostCache.stats().listening);
  assert.ok(!first.services.hostCache.holds('resilient'));
  // Meanwhile a change is still seen by both replicas.
  assert.equal(
    (await second.request('/nic/update?hostname=resilient&myip=198.51.100.4', { auth })).body,
    'good 198.51.100.4',
  );
  assert.equal(
    (await first.request('/nic/update?hostname=resilient&myip=198.51.100.4', { auth })).body,
    'nochg 198.51.100.4',
  );
  await until('the cache listens again', () => first.services.hostCache.stats().listening, 10_000);
  assert.equal(
    (await first.request('/nic/update?hostname=resilient&myip=198.51.100.4', { auth })).body,
    'nochg 198.51.100.4',
  );
  assert.ok(first.services.hostCache.holds('resilient'));
});
