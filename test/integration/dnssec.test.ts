import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { type BindSecondary, startBindSecondary } from '../support/bind.ts';
import { createDnsQuery } from '../support/dns.ts';
import { delv, writeTrustAnchor } from '../support/dnssec.ts';
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
 * writes no NSEC3 order name for the rows a PATCH replaces: the triggers of
 * pdns/keep-ordernames.sqlite3.sql keep a name's order name across the
 * REPLACE, so an address change needs no rectify (the two negative answers
 * fail to validate without them), and a PATCH that adds a name is rectified.
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
  const body = (await zone.json()) as { nsec3param: string; nsec3narrow: boolean };
  assert.deepEqual(
    { nsec3param: body.nsec3param, nsec3narrow: body.nsec3narrow },
    { nsec3param: '1 0 0 -', nsec3narrow: false },
  );
});

/** Whether the zone's last PATCH was rectified: the triggers set API-RECTIFY per PATCH. */
async function wasRectified(): Promise<boolean> {
  const response = await fetch(`${primary.apiUrl}/api/v1/servers/localhost/zones/${mydns.zone}.`, {
    headers: { 'X-API-Key': primary.apiKey, Accept: 'application/json' },
  });
  return ((await response.json()) as { api_rectify: boolean }).api_rectify;
}

const json = { 'content-type': 'application/json' };

test('after each update, its answer, a NODATA and an NXDOMAIN validate at the primary', async () => {
  const anchor = await writeTrustAnchor(mydns.pdns, mydns.zone, dir);
  await mydns.createHost('signed', PASSWORD);
  for (const address of ['198.51.100.10', '198.51.100.11']) {
    await update('signed', address);
    await assertValidates(primary.dnsPort, anchor, 'signed', address);
  }
});

/** A validated answer of exactly `records` (`<type> <data>`). */
async function assertAnswer(anchor: string, name: string, type: string, records: string[]) {
  const answer = await delv(primary.dnsPort, anchor, zone, name, type);
  assert.ok(answer.validated, `${name} ${type} validates\n${answer.output}`);
  assert.deepEqual(answer.records, records, answer.output);
}

/** A validated NXDOMAIN or NODATA (`nxrrset`). */
async function assertNegative(anchor: string, name: string, type: string, negative: 'nxdomain' | 'nxrrset') {
  const answer = await delv(primary.dnsPort, anchor, zone, name, type);
  assert.equal(answer.negative, negative, answer.output);
  assert.ok(answer.validated, `${name} ${type} (${negative}) validates\n${answer.output}`);
}

/** A call of the host API as the host `label`, with a JSON body. */
const asHost = (label: string, method: string, path: string, body?: unknown) =>
  mydns.request(`/api/v1/hosts/${label}${path}`, {
    method,
    auth: [label, PASSWORD],
    ...(body === undefined ? {} : { headers: json, body: JSON.stringify(body) }),
  });

test('an address change is not rectified; a new name, owner records, the wildcard and ACME are, and all validate', async () => {
  const anchor = await writeTrustAnchor(mydns.pdns, mydns.zone, dir);
  await update('signed', '198.51.100.12');
  assert.equal(await wasRectified(), false, 'a PATCH of names that exist needs no rectify');
  await assertValidates(primary.dnsPort, anchor, 'signed', '198.51.100.12');

  // A registration right after: a name PowerDNS has never had, in a batch of its own.
  await mydns.createHost('fresh', PASSWORD);
  await update('fresh', '198.51.100.13');
  assert.equal(await wasRectified(), true, 'a PATCH that adds a name is rectified');
  await assertValidates(primary.dnsPort, anchor, 'fresh', '198.51.100.13');
  await assertValidates(primary.dnsPort, anchor, 'signed', '198.51.100.12');

  // An owner record at a new sub-name: its answer, a NODATA there and an NXDOMAIN below it.
  const www = `www.signed.${zone}`;
  const records = await asHost('signed', 'PUT', '/records', {
    records: [{ subname: 'www', type: 'TXT', content: 'owner' }],
  });
  assert.equal(records.status, 200, records.body);
  await assertAnswer(anchor, www, 'TXT', ['TXT "owner"']);
  await assertNegative(anchor, www, 'A', 'nxrrset');
  await assertNegative(anchor, `nothing.${www}`, 'A', 'nxdomain');

  // The ACME TXT, added and taken away again.
  const challenge = `_acme-challenge.signed.${zone}`;
  const added = await asHost('signed', 'POST', '/acme-challenge', { value: 'dnssec-acme-value' });
  assert.equal(added.status, 201, added.body);
  await assertAnswer(anchor, challenge, 'TXT', ['TXT "dnssec-acme-value"']);
  await assertNegative(anchor, challenge, 'A', 'nxrrset');
  const removed = await asHost('signed', 'DELETE', '/acme-challenge/dnssec-acme-value');
  assert.ok(removed.status < 300, removed.body);
  await assertNegative(anchor, challenge, 'TXT', 'nxdomain');

  // The wildcard of the new host: a name below it answers, validated, and its NODATA too.
  const wildcard = await asHost('fresh', 'PATCH', '', { wildcard: true });
  assert.equal(wildcard.status, 200, wildcard.body);
  await assertAnswer(anchor, `any.fresh.${zone}`, 'A', ['A 198.51.100.13']);
  await assertNegative(anchor, `any.fresh.${zone}`, 'TXT', 'nxrrset');

  // And address changes again, now of the names just added: no rectify, still valid.
  await update('fresh', '198.51.100.14');
  await update('signed', '198.51.100.11');
  assert.equal(await wasRectified(), false, 'the new names are names that exist now');
  await assertValidates(primary.dnsPort, anchor, 'signed', '198.51.100.11');
  await assertAnswer(anchor, `fresh.${zone}`, 'A', ['A 198.51.100.14']);
  await assertNegative(anchor, `fresh.${zone}`, 'AAAA', 'nxrrset');
  await assertNegative(anchor, www, 'A', 'nxrrset');
});

test('a BIND 9 secondary serves the signed zone, and its answers validate after an update', async () => {
  await mydns.stop();
  bind = await startBindSecondary({ zone: mydns.zone, primaryPort: primary.dnsPort });
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
