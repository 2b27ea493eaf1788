import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { buildSetups } from '../../apps/api/src/web/setups.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * MYDNS_API_ADDRESS (README "Configuring clients", each family from its own
 * connection): every zone publishes update.<zone> (both families),
 * update4.<zone> (A only) and update6.<zone> (AAAA only), in real DNS
 * answers; the reconciler keeps them; the setups use them.
 */

let mydns: TestMyDns;
const second = `second.${Date.now().toString(36)}.test`;

before(async () => {
  mydns = await startTestMyDns({
    env: {
      MYDNS_API_ADDRESS: '192.0.2.53, 2001:db8::53',
      MYDNS_ZONES: `${`z${Date.now().toString(36)}.test`},${second}`,
    },
  });
});
after(async () => {
  await mydns?.stop();
});

test('update, update4 and update6 in every zone; the reconciler restores them', async () => {
  for (const zone of mydns.config.zones) {
    assert.deepEqual(await mydns.query.a(`update.${zone}`), ['192.0.2.53']);
    assert.deepEqual(await mydns.query.aaaa(`update.${zone}`), ['2001:db8::53']);
    assert.deepEqual(await mydns.query.a(`update4.${zone}`), ['192.0.2.53']);
    assert.deepEqual(await mydns.query.aaaa(`update4.${zone}`), []);
    assert.deepEqual(await mydns.query.a(`update6.${zone}`), []);
    assert.deepEqual(await mydns.query.aaaa(`update6.${zone}`), ['2001:db8::53']);
  }
  await mydns.pdns.patchZone(second, [{ name: `update4.${second}`, type: 'A', ttl: 60, records: [] }]);
  await mydns.services.reconciler.run({ dryRun: false });
  assert.deepEqual(await mydns.query.a(`update4.${second}`), ['192.0.2.53']);
  // The names are not registrable.
  const taken = await mydns.request('/api/v1/hosts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hostname: 'update6', password: 'a-long-password-1' }),
  });
  assert.equal(JSON.parse(taken.body).error.code, 'hostname_reserved');
});

test('the setups update each family over its own connection', () => {
  const setups = buildSetups({
    baseUrl: 'https://dyn.example.net',
    hostname: 'alice.dyn.example.net',
    secret: 'TOKEN',
    familyHosts: { v4: 'update4.dyn.example.net', v6: 'update6.dyn.example.net' },
  });
  const dual = setups.find((setup) => setup.id === 'curl-dual-stack');
  assert.match(dual?.code ?? '', /curl -sS -4 'https:\/\/update4\.dyn\.example\.net\/u\.php\?hostname=alice/);
  assert.match(dual?.code ?? '', /curl -sS -6 'https:\/\/update6\.dyn\.example\.net\/u\.php\?hostname=alice/);
  const fritz = setups.find((setup) => setup.id === 'fritzbox');
  assert.match(fritz?.code ?? '', /myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>/);
  const openwrt = setups.find((setup) => setup.id === 'openwrt');
  assert.match(
    openwrt?.note ?? '',
    /update6\.dyn\.example\.net\/nic\/update\?hostname=\[DOMAIN\]&myipv6=\[IP\]&ip6lanprefix=\[IP\]\/64/,
  );
  assert.equal(
    buildSetups({ baseUrl: 'https://dyn.example.net', hostname: 'a.dyn.example.net', secret: 'T' }).some(
      (setup) => setup.id === 'curl-dual-stack',
    ),
    false,
    'not offered without MYDNS_API_ADDRESS',
  );
});
