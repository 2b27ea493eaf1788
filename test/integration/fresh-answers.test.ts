import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPowerDnsClient, type PowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import { uniqueZone } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';

/**
 * `good` promises that PowerDNS already answers the new address (a PATCH
 * purges the zone from PowerDNS's caches). With both of its caches on, a
 * query answered while the purge runs can put the old answer back into the
 * packet cache, from the not yet purged query cache, for cache-ttl (20 s):
 * pdns#16286, fixed upstream by purging the query cache first (pdns#16287).
 * The managed configuration (pdns/managed.conf) turns the query cache off;
 * this asks all the while a record is changed, on a PowerDNS run with it.
 */

let pdns: PrivatePowerDns;
let dns: PowerDnsClient;
const zone = uniqueZone();
const ROUNDS = 1500;

before(async () => {
  pdns = await startPrivatePowerDns();
  dns = createPowerDnsClient({ apiUrl: pdns.apiUrl, apiKey: pdns.apiKey });
  await dns.createZone({
    name: zone,
    kind: 'Native',
    nameservers: [`ns1.${zone}`],
    soa: { ttl: 300, content: `ns1.${zone}. hostmaster.${zone}. 1 10800 3600 604800 60` },
  });
});
after(async () => {
  await pdns?.remove();
});

test('a changed record is answered at once, even to clients asking all the while', async () => {
  const name = `busy.${zone}`;
  const query = createDnsQuery(pdns.dnsPort);
  await dns.patchZone(zone, [{ name, type: 'A', ttl: 60, records: ['10.0.0.1'] }]);
  let asking = true;
  // Resolvers asking while the changes land, as they do on a busy zone.
  const askers = Array.from({ length: 3 }, async () => {
    while (asking) await query.a(name);
  });
  let stale: { round: number; expected: string; answer: string[] } | undefined;
  try {
    for (let round = 1; round <= ROUNDS && !stale; round++) {
      const ip = `10.${1 + (round >> 16)}.${(round >> 8) & 255}.${round & 255}`;
      await dns.patchZone(zone, [{ name, type: 'A', ttl: 60, records: [ip] }]);
      const answer = await query.a(name);
      if (answer.length !== 1 || answer[0] !== ip) stale = { round, expected: ip, answer };
    }
  } finally {
    asking = false;
    await Promise.all(askers);
  }
  assert.equal(
    stale,
    undefined,
    `after a PATCH, PowerDNS still answered the old record: ${JSON.stringify(stale)}`,
  );
});
