import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { createDnsQuery } from '../support/dns.ts';
import { type BindSecondary, delv, startBindSecondary, writeTrustAnchor } from '../support/dnssec.ts';
import { harness } from '../support/harness.ts';
import { createTestDatabase, startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { runProgram } from '../support/programs.ts';
import { waitFor } from '../support/wait.ts';

const root = resolve(import.meta.dirname, '../..');

/**
 * DNSSEC (README "DNSSEC", docs/dnssec.md): the zone MyDNS creates is signed,
 * and every answer validates with the zone's own key as the only trust
 * anchor, right after each update: the address, a NODATA (no AAAA at a host
 * with only an A) and an NXDOMAIN (a name below the host), at the primary and
 * at a BIND 9 secondary that transfers the signed zone by AXFR. PowerDNS
 * writes no NSEC3 order name for the rows a PATCH replaces, so without
 * API-RECTIFY the two negative answers fail to validate after an update.
 */

let primary: PrivatePowerDns;
let bind: BindSecondary | undefined;
let mydns: TestMyDns;
let dir: string;
let database: Awaited<ReturnType<typeof createTestDatabase>>;
const zone = uniqueZone();
const PASSWORD = 'dnssec-password';

before(async () => {
  dir = mkdtempSync(join(harness().workDir, 'dnssec-'));
  primary = await startPrivatePowerDns();
  database = await createTestDatabase();
  // BIND needs the zone to exist before it starts: MyDNS starts first without
  // secondaries, then again (same database, same zone) with BIND as one.
  mydns = await startTestMyDns({ powerdns: primary, database, env: { MYDNS_ZONE: zone } });
});
after(async () => {
  await mydns?.stop();
  await bind?.stop();
  await primary?.remove();
  await database?.drop();
});

async function update(label: string, address: string): Promise<void> {
  const reply = await mydns.request(`/nic/update?hostname=${label}&myip=${address}`, {
    auth: [label, PASSWORD],
  });
  assert.equal(reply.body, `good ${address}`);
}

/** The three answers, validated at `port`. */
async function assertValidates(port: number, anchor: string, label: string, address: string) {
  const positive = await delv(port, anchor, zone, `${label}.${zone}`, 'A');
  assert.ok(positive.validated, `the A answer validates\n${positive.output}`);
  assert.deepEqual(positive.records, [`A ${address}`], positive.output);
  const nodata = await delv(port, anchor, zone, `${label}.${zone}`, 'AAAA');
  assert.equal(nodata.negative, 'nxrrset', nodata.output);
  assert.ok(nodata.validated, `the NODATA answer validates\n${nodata.output}`);
  const nxdomain = await delv(port, anchor, zone, `nothing.${label}.${zone}`, 'A');
  assert.equal(nxdomain.negative, 'nxdomain', nxdomain.output);
  assert.ok(nxdomain.validated, `the NXDOMAIN answer validates\n${nxdomain.output}`);
}

test('the zone MyDNS creates is signed with NSEC3 1 0 0 -', async () => {
  const info = await mydns.pdns.zoneInfo(mydns.zone);
  assert.equal(info.dnssec, true);
  const zone = await fetch(`${primary.apiUrl}/api/v1/servers/localhost/zones/${mydns.zone}.`, {
    headers: { 'X-API-Key': primary.apiKey, Accept: 'application/json' },
  });
  const body = (await zone.json()) as { nsec3param: string; nsec3narrow: boolean; api_rectify: boolean };
  assert.deepEqual(
    { nsec3param: body.nsec3param, nsec3narrow: body.nsec3narrow, api_rectify: body.api_rectify },
    { nsec3param: '1 0 0 -', nsec3narrow: false, api_rectify: true },
  );
});

test('after each update, its answer, a NODATA and an NXDOMAIN validate at the primary', async () => {
  const anchor = await writeTrustAnchor(mydns.pdns, mydns.zone, dir);
  await mydns.createHost('signed', PASSWORD);
  for (const address of ['198.51.100.10', '198.51.100.11']) {
    await update('signed', address);
    await assertValidates(primary.dnsPort, anchor, 'signed', address);
  }
});

test('a BIND 9 secondary serves the signed zone, and its answers validate after an update', async () => {
  await mydns.stop();
  bind = await startBindSecondary(mydns.zone, primary.dnsPort);
  mydns = await startTestMyDns({
    powerdns: primary,
    database,
    env: { MYDNS_ZONE: zone, MYDNS_SECONDARIES: `127.0.0.1:${bind.dnsPort}` },
  });
  const secondary = bind;
  const anchor = await writeTrustAnchor(mydns.pdns, mydns.zone, dir);
  await mydns.createHost('replica', PASSWORD);
  const atSecondary = createDnsQuery(secondary.dnsPort);
  for (const address of ['198.51.100.20', '198.51.100.21']) {
    await update('replica', address);
    await waitFor(async () => (await atSecondary.a(`replica.${mydns.zone}`))[0] === address, {
      timeoutMs: 20_000,
      intervalMs: 100,
      message: `BIND to transfer the update to ${address}`,
    });
    await assertValidates(secondary.dnsPort, anchor, 'replica', address);
  }
});

test('npm run cli -- zone ds / zone secure: the DS for the parent, and the signing of an unsigned zone', async () => {
  const unsigned = uniqueZone();
  await mydns.pdns.createZone({ name: unsigned, kind: 'Native', nameservers: [`ns1.${unsigned}`] });
  await mydns.pdns.patchZone(unsigned, [
    { name: `host.${unsigned}`, type: 'A', ttl: 60, records: ['198.51.100.30'] },
  ]);
  const cli = (...args: string[]) =>
    runProgram(join(root, 'node_modules/.bin/tsx'), [join(root, 'apps/api/src/cli.ts'), ...args], {
      cwd: root,
      timeoutMs: 90_000,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        DATABASE_URL: database.url,
        MYDNS_ZONE: zone,
        MYDNS_PDNS_API_URL: primary.apiUrl,
        MYDNS_PDNS_API_KEY: primary.apiKey,
      },
    });
  const notYet = await cli('zone', 'ds', unsigned);
  assert.equal(notYet.code, 1, notYet.output);
  assert.match(
    notYet.stdout,
    new RegExp(`not signed; sign it with \`npm run cli -- zone secure ${unsigned}\``),
  );

  const secured = await cli('zone', 'secure', unsigned);
  assert.equal(secured.code, 0, secured.output);
  const [key] = await mydns.pdns.cryptoKeys(unsigned);
  assert.ok(key, 'the zone has a key now');
  const sha256 = key.ds.find((ds) => ds.split(' ')[2] === '2');
  assert.ok(secured.stdout.includes(`${unsigned}. IN DS ${sha256}`), secured.output);
  const anchor = await writeTrustAnchor(mydns.pdns, unsigned, dir);
  const nxdomain = await delv(primary.dnsPort, anchor, unsigned, `nothing.host.${unsigned}`, 'A');
  assert.ok(nxdomain.validated && nxdomain.negative === 'nxdomain', nxdomain.output);
  const nodata = await delv(primary.dnsPort, anchor, unsigned, `host.${unsigned}`, 'AAAA');
  assert.ok(nodata.validated && nodata.negative === 'nxrrset', nodata.output);

  // With no zone named, every served zone's records; the DS matches the key PowerDNS signs with.
  const ds = await cli('zone', 'ds');
  assert.equal(ds.code, 0, ds.output);
  const [own] = await mydns.pdns.cryptoKeys(zone);
  const ownSha256 = own?.ds.find((line) => line.split(' ')[2] === '2');
  assert.ok(ds.stdout.startsWith(`${zone}. IN DS ${ownSha256}\n`), ds.output);
  assert.ok(ds.stdout.includes(`${zone}. IN DNSKEY ${own?.dnskey}`), ds.output);
  await mydns.pdns.deleteZone(unsigned);
});

test('after a wipe, the reconciler restores a zone that validates (with its new key)', async () => {
  await primary.wipe();
  const report = await mydns.services.reconciler.run({ dryRun: false });
  assert.equal(report.zoneCreated, true);
  assert.equal((await mydns.pdns.zoneInfo(mydns.zone)).dnssec, true);
  const anchor = await writeTrustAnchor(mydns.pdns, mydns.zone, dir);
  await assertValidates(primary.dnsPort, anchor, 'signed', '198.51.100.11');
  await assertValidates(primary.dnsPort, anchor, 'replica', '198.51.100.21');
});
