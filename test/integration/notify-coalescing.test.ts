import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type BindSecondary, startBindSecondary } from '../support/bind.ts';
import { createDnsQuery } from '../support/dns.ts';
import { startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { freePort } from '../support/ports.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Coalesced NOTIFYs (MYDNS_NOTIFY_INTERVAL) with a real AXFR secondary, BIND 9
 * from Debian: a stream of changes, each its own batch (each update waits for
 * its push), makes at most one NOTIFY per interval, not one per batch, and
 * the secondary still converges to the last change (its own refresh is hours
 * away: only a NOTIFY can tell it).
 */

const INTERVAL_MS = 2000;
const PASSWORD = 'notify-coalescing-password';
const HOSTS = 4;
const UPDATES = 40;
let primary: PrivatePowerDns;
let secondary: BindSecondary;
let mydns: TestMyDns;
const zone = uniqueZone();

before(async () => {
  // The primary's own check for changed serials (also every xfr-cycle-interval) stays out of the count.
  primary = await startPrivatePowerDns({ extraConfig: ['xfr-cycle-interval=3600'] });
  // MyDNS first: it creates the zone, so BIND finds it at its first refresh.
  const secondaryPort = await freePort();
  mydns = await startTestMyDns({
    powerdns: primary,
    env: {
      MYDNS_ZONE: zone,
      MYDNS_SECONDARIES: `127.0.0.1:${secondaryPort}`,
      MYDNS_NOTIFY_INTERVAL: `${INTERVAL_MS}ms`,
      MYDNS_HOST_UPDATE_LIMIT: '1000/10m',
    },
  });
  secondary = await startBindSecondary({ zone, primaryPort: primary.dnsPort, dnsPort: secondaryPort });
});
after(async () => {
  await mydns?.stop();
  await secondary?.stop();
  await primary?.remove();
});

const patchCount = async () =>
  Number(
    /^mydns_powerdns_patch_seconds_count (\d+)$/m.exec((await mydns.request('/metrics')).body)?.[1] ?? 0,
  );

test('a stream of changes: at most one NOTIFY per interval, and the secondary converges to the last change', async () => {
  const atSecondary = createDnsQuery(secondary.dnsPort);
  const names = Array.from({ length: HOSTS }, (_, i) => `n${i}`);
  for (const name of names) {
    await mydns.createHost(name, PASSWORD);
    const warm = await mydns.request(`/nic/update?hostname=${name}&myip=192.0.2.1`, {
      auth: [name, PASSWORD],
    });
    assert.equal(warm.body, 'good 192.0.2.1');
  }
  await waitFor(async () => (await atSecondary.a(`${names.at(-1)}.${zone}`))[0] === '192.0.2.1', {
    timeoutMs: 30_000,
    message: () => `the secondary to have the zone:\n${secondary.output().slice(-2000)}`,
  });
  const notifiesBefore = secondary.notifies();
  const patchesBefore = await patchCount();
  const started = Date.now();
  const last = new Map<string, string>();
  for (let i = 0; i < UPDATES; i++) {
    const name = names[i % HOSTS] ?? 'n0';
    const ip = `198.51.100.${i + 1}`;
    const reply = await mydns.request(`/nic/update?hostname=${name}&myip=${ip}`, { auth: [name, PASSWORD] });
    assert.equal(reply.body, `good ${ip}`);
    last.set(name, ip);
  }
  const batches = (await patchCount()) - patchesBefore;
  for (const [name, ip] of last) {
    await waitFor(async () => (await atSecondary.a(`${name}.${zone}`))[0] === ip, {
      timeoutMs: 30_000,
      intervalMs: 50,
      message: async () =>
        `the secondary to answer ${ip} for ${name} (it answers ${JSON.stringify(await atSecondary.a(`${name}.${zone}`))}); ${secondary.notifies() - notifiesBefore} NOTIFYs`,
    });
  }
  const elapsed = Date.now() - started;
  const notifies = secondary.notifies() - notifiesBefore;
  assert.ok(batches >= UPDATES, `each update its own batch (${batches} PATCHes)`);
  // One at the first change, then at most one at the end of each interval since; and
  // perhaps one still due from the set-up, which may land after the count began.
  const allowed = 2 + Math.ceil(elapsed / INTERVAL_MS);
  assert.ok(notifies >= 1, 'the changes were announced');
  assert.ok(
    notifies <= allowed,
    `${notifies} NOTIFYs for ${batches} batches in ${elapsed} ms: at most ${allowed} (one per ${INTERVAL_MS} ms)`,
  );
  assert.ok(notifies < batches, `${notifies} NOTIFYs for ${batches} batches`);
});
