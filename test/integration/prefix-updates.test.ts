import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * IPv6 prefix updates (README "Records", docs/protocol.md "IPv6 prefixes")
 * against the real Postgres and PowerDNS: the Fritz!Box pair and deSEC's
 * `myipv6=<prefix>/<len>`, with LAN devices (interface-identifier AAAA
 * records) following in real DNS answers; and nsupdate.info's trap, a
 * Fritz!Box re-sending a prefix-only update, which must not become `abuse`.
 */

const PASSWORD = 'prefix-test-secret-1';
let mydns: TestMyDns;

const update = (name: string, query: string, agent = 'Fritz!Box DDNS/1.0.1') =>
  mydns.request(`/nic/update?hostname=${name}&${query}`, {
    auth: [name, PASSWORD],
    headers: { 'user-agent': agent },
  });

before(async () => {
  // A small per-host limit, so the trap below would reach it.
  mydns = await startTestMyDns({ env: { MYDNS_HOST_UPDATE_LIMIT: '8/10m' } });
  await mydns.createHost('nas', PASSWORD);
  const set = await mydns.request('/api/v1/hosts/nas/records', {
    method: 'PUT',
    auth: ['nas', PASSWORD],
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      records: [
        { subname: 'box', type: 'AAAA', content: '::211:22ff:fe33:4455' },
        { subname: 'printer', type: 'AAAA', content: '::5' },
        { subname: 'printer', type: 'A', content: '@' },
      ],
    }),
  });
  assert.equal(set.status, 200, set.body);
});
after(async () => {
  await mydns?.stop();
});

describe('IPv6 prefix updates', () => {
  test('the Fritz!Box pair: the host’s AAAA is its own address, LAN devices take the LAN prefix', async () => {
    const name = `nas.${mydns.zone}`;
    const reply = await update('nas', 'myip=198.51.100.20,2001:db8:ff::1&ip6lanprefix=2001:db8:1:2::/64');
    assert.equal(reply.body, 'good 198.51.100.20,2001:db8:ff::1');
    assert.deepEqual(await mydns.query.aaaa(name), ['2001:db8:ff::1']);
    assert.deepEqual(await mydns.query.aaaa(`box.${name}`), ['2001:db8:1:2:211:22ff:fe33:4455']);
    assert.deepEqual(await mydns.query.aaaa(`printer.${name}`), ['2001:db8:1:2::5']);
    assert.deepEqual(await mydns.query.a(`printer.${name}`), ['198.51.100.20']);

    // The ISP hands out a new prefix: every LAN device follows, in one update.
    const moved = await update('nas', 'myip=198.51.100.20,2001:db8:ff::1&ip6lanprefix=2001:db8:1:3::/64');
    assert.equal(moved.body, 'good 198.51.100.20,2001:db8:ff::1');
    assert.deepEqual(await mydns.query.aaaa(`box.${name}`), ['2001:db8:1:3:211:22ff:fe33:4455']);
    assert.deepEqual(await mydns.query.aaaa(`printer.${name}`), ['2001:db8:1:3::5']);
    const again = await update('nas', 'myip=198.51.100.20,2001:db8:ff::1&ip6lanprefix=2001:db8:1:3::/64');
    assert.equal(again.body, 'nochg 198.51.100.20,2001:db8:ff::1');
    const host = JSON.parse((await mydns.request('/api/v1/hosts/nas', { auth: ['nas', PASSWORD] })).body);
    assert.equal(host.ipv6Prefix, '2001:db8:1:3::/64');
  });

  test('myipv6=<prefix>/56: the AAAA keeps its interface bits, the LAN /64 its subnet bits', async () => {
    const name = `nas.${mydns.zone}`;
    const reply = await update('nas', 'myipv6=2001:db8:aa00::/56');
    assert.equal(reply.body, 'good 2001:db8:aa00::1');
    assert.deepEqual(await mydns.query.aaaa(name), ['2001:db8:aa00::1']);
    assert.deepEqual(await mydns.query.a(name), ['198.51.100.20'], 'IPv4 kept');
    assert.deepEqual(await mydns.query.aaaa(`box.${name}`), ['2001:db8:aa00:3:211:22ff:fe33:4455']);
    // The simple URL takes it too.
    const simple = await mydns.request(`/u.php?hostname=nas&password=${PASSWORD}&myipv6=2001:db8:bb00::/56`);
    assert.equal(simple.body, 'good 2001:db8:bb00::1');
    assert.deepEqual(await mydns.query.aaaa(`printer.${name}`), ['2001:db8:bb00:3::5']);
    // A full address without a LAN prefix: the devices follow that address's /64 again.
    assert.equal((await update('nas', 'myipv6=2001:db8:cc:4::1')).body, 'good 2001:db8:cc:4::1');
    assert.deepEqual(await mydns.query.aaaa(`printer.${name}`), ['2001:db8:cc:4::5']);
    const bad = await update('nas', 'myipv6=2001:db8::/40');
    assert.equal(bad.body, 'dnserr');
  });

  /**
   * nsupdate.info PR#497: a Fritz!Box set up with a prefix-only URL checks the
   * host's AAAA after each update, finds it is not its own address, and sends
   * the update again while it differs. Ten re-sends against a limit of eight.
   */
  test('a Fritz!Box re-sending a prefix-only update gets nochg, never abuse', async () => {
    await mydns.createHost('fritz', PASSWORD);
    const first = await update('fritz', 'myip=2001:db8:77:1::/64');
    assert.equal(first.body, 'good');
    for (let i = 1; i <= 10; i++) {
      const again = await update('fritz', 'myip=2001:db8:77:1::/64');
      assert.equal(again.body, 'nochg', `re-send ${i}`);
    }
    // Its regular updates still work afterwards.
    const full = await update(
      'fritz',
      'myip=198.51.100.30,2001:db8:77:ff::1&ip6lanprefix=2001:db8:77:1::/64',
    );
    assert.equal(full.body, 'good 198.51.100.30,2001:db8:77:ff::1');
    assert.deepEqual(await mydns.query.aaaa(`fritz.${mydns.zone}`), ['2001:db8:77:ff::1']);
  });
});
