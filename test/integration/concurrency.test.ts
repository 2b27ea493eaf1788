import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * 50 concurrent updates of one host with 50 different addresses: PowerDNS
 * ends with exactly one A record, equal to the last value Postgres committed
 * (the zone writer serialises PATCHes and always sends the current row).
 */

let mydns: TestMyDns;
const PASSWORD = 'concurrent-password';

before(async () => {
  mydns = await startTestMyDns({
    env: {
      MYDNS_HOST_UPDATE_LIMIT: '1000/10m',
      MYDNS_DB_POOL_SIZE: '10',
      // What is checked here is the end state, not speed: on a loaded machine the
      // 50th change of one host can wait past the default 3 s and answer dnserr.
      MYDNS_PUSH_TIMEOUT: '20s',
    },
  });
});
after(async () => {
  await mydns?.stop();
});

test('50 concurrent updates of one host leave one A record, the last committed value', async () => {
  await mydns.createHost('busy', PASSWORD);
  const replies = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      mydns.request(`/nic/update?hostname=busy&myip=198.51.100.${i + 1}`, { auth: ['busy', PASSWORD] }),
    ),
  );
  for (const [i, reply] of replies.entries()) {
    assert.equal(reply.status, 200);
    assert.match(reply.body, new RegExp(`^(good|nochg) 198\\.51\\.100\\.${i + 1}$`));
  }
  assert.ok(replies.filter((r) => r.body.startsWith('good')).length >= 1);
  const committed = JSON.parse(
    (await mydns.request('/api/v1/hosts/busy', { auth: ['busy', PASSWORD] })).body,
  ).ipv4;
  assert.match(committed, /^198\.51\.100\.\d+$/);
  assert.deepEqual(await mydns.records('busy', 'A'), [committed]);
  assert.deepEqual(await mydns.query.a(`busy.${mydns.zone}`), [committed]);
});

test('concurrent updates of many hosts are batched and all land', async () => {
  const names = Array.from({ length: 40 }, (_, i) => `h${i}`);
  for (const name of names) await mydns.createHost(name, PASSWORD);
  const replies = await Promise.all(
    names.map((name, i) =>
      mydns.request(`/nic/update?hostname=${name}&myip=203.0.113.${i + 1}`, { auth: [name, PASSWORD] }),
    ),
  );
  for (const [i, reply] of replies.entries()) assert.equal(reply.body, `good 203.0.113.${i + 1}`);
  for (const [i, name] of names.entries()) {
    assert.deepEqual(await mydns.query.a(`${name}.${mydns.zone}`), [`203.0.113.${i + 1}`]);
  }
});
