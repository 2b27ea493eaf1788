import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { waitFor } from '../support/wait.ts';

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

/**
 * Repeats a nochg until the replica caches the host: the notification of the
 * preceding change may arrive while the first reload is in flight, and then
 * (correctly) that reload is not cached.
 */
async function warm(replica: TestMyDns, name: string, ip: string): Promise<void> {
  const replies: string[] = [];
  await waitFor(
    async () => {
      if (replica.services.hostCache.holds({ zone: replica.zone, name })) return true;
      const reply = await replica.request(`/nic/update?hostname=${name}&myip=${ip}`, {
        auth: [name, PASSWORD],
      });
      replies.push(reply.body);
      return replica.services.hostCache.holds({ zone: replica.zone, name });
    },
    { message: `${name} to be cached`, timeoutMs: 5000, intervalMs: 0 },
  );
  assert.deepEqual(
    replies,
    replies.map(() => `nochg ${ip}`),
  );
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
  assert.ok(
    second.services.hostCache.holds({ zone: second.zone, name: 'shared' }),
    'the second replica caches the host after a nochg',
  );

  assert.equal(
    (await first.request('/nic/update?hostname=shared&myip=198.51.100.2', { auth })).body,
    'good 198.51.100.2',
  );
  await waitFor(() => !second.services.hostCache.holds({ zone: second.zone, name: 'shared' }), {
    message: 'the second replica to drop the host',
    timeoutMs: 5000,
    intervalMs: 20,
  });
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
  await waitFor(() => !first.services.hostCache.stats().listening, {
    message: 'the cache to notice the lost connection',
    timeoutMs: 5000,
    intervalMs: 20,
  });
  assert.ok(!first.services.hostCache.holds({ zone: first.zone, name: 'resilient' }));
  // Meanwhile a change is still seen by both replicas.
  assert.equal(
    (await second.request('/nic/update?hostname=resilient&myip=198.51.100.4', { auth })).body,
    'good 198.51.100.4',
  );
  assert.equal(
    (await first.request('/nic/update?hostname=resilient&myip=198.51.100.4', { auth })).body,
    'nochg 198.51.100.4',
  );
  await waitFor(() => first.services.hostCache.stats().listening, {
    message: 'the cache to listen again',
    timeoutMs: 10_000,
    intervalMs: 20,
  });
  assert.equal(
    (await first.request('/nic/update?hostname=resilient&myip=198.51.100.4', { auth })).body,
    'nochg 198.51.100.4',
  );
  assert.ok(first.services.hostCache.holds({ zone: first.zone, name: 'resilient' }));
});
