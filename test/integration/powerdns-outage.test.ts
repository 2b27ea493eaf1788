import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * PowerDNS stopped mid-test: updates answer dnserr after the push deadline,
 * the changes stay committed and pending, and once PowerDNS is back they reach
 * it without any client sending again. Nothing is lost and no host ends with
 * two A records. The writer's backoff and how a waiting request cuts it short
 * are timed exactly in the fast tier (packages/powerdns/src/zone-writer-service.test.ts);
 * this is the real thing, end to end.
 */

let pdns: PrivatePowerDns;
let mydns: TestMyDns;
const PASSWORD = 'outage-password';

before(async () => {
  pdns = await startPrivatePowerDns();
  // 5 s: a loaded machine still answers a good update in time; a PowerDNS that is down is waited out once per request.
  mydns = await startTestMyDns({ powerdns: pdns, env: { MYDNS_PUSH_TIMEOUT: '5s' } });
});
after(async () => {
  await mydns?.stop();
  await pdns?.remove();
});

async function pendingCount(): Promise<number> {
  const client = new pg.Client({ connectionString: mydns.databaseUrl });
  await client.connect();
  try {
    const result = await client.query<{ count: string }>('select count(*) from dns_outbox');
    return Number(result.rows[0]?.count);
  } finally {
    await client.end();
  }
}

test('dnserr while PowerDNS is down, then convergence with nothing lost', async () => {
  const hosts = ['one', 'two', 'three'];
  for (const host of hosts) await mydns.createHost(host, PASSWORD);
  for (const [i, host] of hosts.entries()) {
    const reply = await mydns.request(`/nic/update?hostname=${host}&myip=198.51.100.${i + 1}`, {
      auth: [host, PASSWORD],
    });
    assert.equal(reply.body, `good 198.51.100.${i + 1}`);
  }

  await pdns.stop();
  // Every host moves while PowerDNS is down; `one` moves twice (the last value must win).
  const down = await Promise.all([
    mydns.request('/nic/update?hostname=one&myip=203.0.113.1', { auth: ['one', PASSWORD] }),
    mydns.request('/nic/update?hostname=two&myip=203.0.113.2,2001:db8::2', { auth: ['two', PASSWORD] }),
    mydns.request('/nic/update?hostname=three&myip=203.0.113.3', { auth: ['three', PASSWORD] }),
  ]);
  for (const reply of down) {
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'dnserr');
  }
  const second = await mydns.request('/nic/update?hostname=one&myip=203.0.113.11', {
    auth: ['one', PASSWORD],
  });
  assert.equal(second.body, 'dnserr');
  // Postgres has every change, marked pending.
  const view = await mydns.request('/api/v1/hosts/two', { auth: ['two', PASSWORD] });
  assert.equal(JSON.parse(view.body).ipv6, '2001:db8::2');
  assert.ok((await pendingCount()) >= 4);
  // A repeat of the same address is nochg against Postgres (the truth), not a new change.
  const repeat = await mydns.request('/nic/update?hostname=three&myip=203.0.113.3', {
    auth: ['three', PASSWORD],
  });
  assert.equal(repeat.body, 'nochg 203.0.113.3');

  await pdns.restart();
  // No client sends anything: the zone writer's retry delivers the pending changes.
  await waitFor(async () => (await pendingCount()) === 0, { message: 'the outbox to drain' });
  const expected: Record<string, [string[], string[]]> = {
    one: [['203.0.113.11'], []],
    two: [['203.0.113.2'], ['2001:db8::2']],
    three: [['203.0.113.3'], []],
  };
  for (const [host, [a, aaaa]] of Object.entries(expected)) {
    assert.deepEqual(await mydns.records(host, 'A'), a, `PowerDNS A of ${host}`);
    assert.deepEqual(await mydns.records(host, 'AAAA'), aaaa, `PowerDNS AAAA of ${host}`);
    const name = `${host}.${mydns.zone}`;
    const dns = { a: await mydns.query.a(name), aaaa: await mydns.query.aaaa(name) };
    assert.deepEqual(dns, { a, aaaa }, `DNS answer of ${host}`);
  }

  // And updates are good again at once.
  const after = await mydns.request('/nic/update?hostname=one&myip=203.0.113.12', {
    auth: ['one', PASSWORD],
  });
  assert.equal(after.body, 'good 203.0.113.12');
  assert.deepEqual(await mydns.query.a(`one.${mydns.zone}`), ['203.0.113.12']);
});
