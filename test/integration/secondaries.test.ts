import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * PowerDNS as a hidden primary (docs/operations.md, "Scaling"): with MYDNS_SECONDARIES set, the
 * zone is of kind Master with them as ALSO-NOTIFY, and every batch is followed
 * by a NOTIFY, so a secondary (a second PowerDNS, AXFR over loopback) answers
 * an update at once: it would otherwise hear of it at its next check, an hour
 * away here (xfr-cycle-interval=3600).
 */

let primary: PrivatePowerDns;
let secondary: PrivatePowerDns;
let mydns: TestMyDns;
const PASSWORD = 'secondary-password';

before(async () => {
  primary = await startPrivatePowerDns();
  secondary = await startPrivatePowerDns({ extraConfig: ['secondary=yes', 'xfr-cycle-interval=3600'] });
  mydns = await startTestMyDns({
    powerdns: primary,
    env: { MYDNS_SECONDARIES: `127.0.0.1:${secondary.dnsPort}` },
  });
  const secondaryApi = createPowerDnsClient({ apiUrl: secondary.apiUrl, apiKey: secondary.apiKey });
  await secondaryApi.createZone({
    name: mydns.zone,
    kind: 'Slave',
    masters: [`127.0.0.1:${primary.dnsPort}`],
    nameservers: [],
  });
});
after(async () => {
  await mydns?.stop();
  await secondary?.remove();
  await primary?.remove();
});

test('the zone is a Master zone notifying the secondaries', async () => {
  const info = await mydns.pdns.zoneInfo(mydns.zone);
  assert.equal(info.kind, 'Master');
  const metadata = await fetch(
    `${primary.apiUrl}/api/v1/servers/localhost/zones/${mydns.zone}./metadata/ALSO-NOTIFY`,
    {
      headers: { 'X-API-Key': primary.apiKey, Accept: 'application/json' },
    },
  );
  assert.deepEqual(((await metadata.json()) as { metadata: string[] }).metadata, [
    `127.0.0.1:${secondary.dnsPort}`,
  ]);
});

test('an update is answered by the secondary at once, not at its next check', async () => {
  const atSecondary = createDnsQuery(secondary.dnsPort);
  await mydns.createHost('replicated', PASSWORD);
  for (const [i, address] of ['198.51.100.1', '198.51.100.2', '198.51.100.3'].entries()) {
    const reply = await mydns.request(`/nic/update?hostname=replicated&myip=${address}`, {
      auth: ['replicated', PASSWORD],
    });
    assert.equal(reply.body, `good ${address}`);
    let answer: string[] = [];
    await waitFor(
      async () => {
        answer = await atSecondary.a(`replicated.${mydns.zone}`);
        return answer[0] === address;
      },
      {
        timeoutMs: 15_000,
        intervalMs: 50,
        message: () => `update ${i + 1} to reach the secondary (it answers ${JSON.stringify(answer)})`,
      },
    );
  }
});
