import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { runProgram } from '../support/programs.ts';

/**
 * Drift between Postgres and PowerDNS, made behind MyDNS's back, and repaired
 * by the reconciler: each kind of drift, a wiped PowerDNS, idempotence, the
 * operator's own records, and the CLI.
 */

const root = resolve(import.meta.dirname, '../..');
let pdns: PrivatePowerDns;
let mydns: TestMyDns;
const PASSWORD = 'drift-password';

before(async () => {
  pdns = await startPrivatePowerDns();
  mydns = await startTestMyDns({
    powerdns: pdns,
    env: {
      MYDNS_OPERATOR_RECORDS: '@,www,*.lab',
      MYDNS_RECONCILE_INTERVAL: '0',
      MYDNS_NAMESERVERS: 'ns1.example.net',
    },
  });
  for (const [host, ip] of [
    ['alpha', '198.51.100.1'],
    ['beta', '198.51.100.2,2001:db8::2'],
    ['gamma', '198.51.100.3'],
  ] as const) {
    await mydns.createHost(host, PASSWORD);
    assert.match(
      (await mydns.request(`/nic/update?hostname=${host}&myip=${ip}`, { auth: [host, PASSWORD] })).body,
      /^good /,
    );
  }
  await mydns.request('/api/v1/hosts/gamma/acme-challenge', {
    method: 'POST',
    auth: ['gamma', PASSWORD],
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value: 'gamma-acme' }),
  });
});
after(async () => {
  await mydns?.stop();
  await pdns?.remove();
});

const name = (label: string) => `${label}.${mydns.zone}`;

async function expectHealthy() {
  assert.deepEqual(await mydns.query.a(name('alpha')), ['198.51.100.1']);
  assert.deepEqual(await mydns.query.a(name('beta')), ['198.51.100.2']);
  assert.deepEqual(await mydns.query.aaaa(name('beta')), ['2001:db8::2']);
  assert.deepEqual(await mydns.query.a(name('gamma')), ['198.51.100.3']);
  assert.deepEqual(await mydns.query.txt(`_acme-challenge.${name('gamma')}`), ['gamma-acme']);
  assert.deepEqual(await mydns.query.a(`relay.mx.${mydns.zone}`), ['127.0.0.1']);
}

test('deleted, changed and stray records are found and repaired; a second run finds nothing', async () => {
  await expectHealthy();
  assert.equal(
    (await mydns.services.reconciler.run({ dryRun: false })).differences.length,
    0,
    'no drift to begin with',
  );

  await mydns.pdns.patchZone(mydns.zone, [
    { name: name('alpha'), type: 'A', ttl: 60, records: [] }, // deleted behind our back
    { name: name('beta'), type: 'A', ttl: 60, records: ['192.0.2.66'] }, // changed
    { name: name('gamma'), type: 'A', ttl: 3600, records: ['198.51.100.3'] }, // wrong TTL
    { name: `stray.${mydns.zone}`, type: 'A', ttl: 60, records: ['192.0.2.99'] }, // nobody's
    { name: `_acme-challenge.${name('alpha')}`, type: 'TXT', ttl: 60, records: ['forged'] }, // a host's name, not in Postgres
    { name: `www.${mydns.zone}`, type: 'A', ttl: 300, records: ['192.0.2.80'] }, // the operator's
    { name: `printer.lab.${mydns.zone}`, type: 'A', ttl: 300, records: ['192.0.2.81'] }, // the operator's subtree
    { name: mydns.zone, type: 'TXT', ttl: 300, records: ['v=spf1 -all'] }, // the operator's apex
  ]);

  const dryRun = await mydns.services.reconciler.run({ dryRun: true });
  const found = dryRun.differences.map((d) => `${d.kind} ${d.type} ${d.name}`).sort();
  assert.deepEqual(found, [
    `extra A stray.${mydns.zone}.`,
    `extra TXT _acme-challenge.${name('alpha')}.`,
    `missing A ${name('alpha')}.`,
    `wrong A ${name('beta')}.`,
    `wrong A ${name('gamma')}.`,
  ]);
  assert.deepEqual(await mydns.query.a(name('alpha')), [], 'a dry run changes nothing');

  const repaired = await mydns.services.reconciler.run({ dryRun: false });
  assert.equal(repaired.differences.length, 5);
  assert.ok(repaired.fixed);
  await expectHealthy();
  assert.deepEqual(await mydns.query.a(`stray.${mydns.zone}`), []);
  assert.deepEqual(await mydns.query.txt(`_acme-challenge.${name('alpha')}`), []);
  assert.deepEqual(await mydns.query.a(`www.${mydns.zone}`), ['192.0.2.80'], 'operator records stay');
  assert.deepEqual(await mydns.query.a(`printer.lab.${mydns.zone}`), ['192.0.2.81']);
  assert.deepEqual(await mydns.query.txt(mydns.zone), ['v=spf1 -all']);
  const ttl = await mydns.pdns.listRrsets(mydns.zone, { name: name('gamma'), type: 'A' });
  assert.equal(ttl.find((r) => r.type === 'A')?.ttl, 60);

  assert.deepEqual((await mydns.services.reconciler.run({ dryRun: false })).differences, [], 'idempotent');
});

test('a wiped PowerDNS is rebuilt from Postgres', async () => {
  await pdns.wipe();
  assert.equal(await mydns.pdns.zoneExists(mydns.zone), false);
  const report = await mydns.services.reconciler.run({ dryRun: false });
  assert.ok(report.zoneCreated);
  await expectHealthy();
  const soa = await mydns.pdns.listRrsets(mydns.zone, { name: mydns.zone, type: 'SOA' });
  assert.match(soa.find((r) => r.type === 'SOA')?.records[0] ?? '', / 60$/, 'our SOA, minimum 60');
  assert.deepEqual((await mydns.services.reconciler.run({ dryRun: false })).differences, []);
  // And updates reach the rebuilt zone.
  assert.equal(
    (await mydns.request('/nic/update?hostname=alpha&myip=198.51.100.11', { auth: ['alpha', PASSWORD] }))
      .body,
    'good 198.51.100.11',
  );
  assert.deepEqual(await mydns.query.a(name('alpha')), ['198.51.100.11']);
});

test('npm run cli -- reconcile [--dry-run] prints the differences', async () => {
  await mydns.pdns.patchZone(mydns.zone, [{ name: name('beta'), type: 'AAAA', ttl: 60, records: [] }]);
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    DATABASE_URL: mydns.databaseUrl,
    MYDNS_ZONE: mydns.zone,
    MYDNS_PDNS_API_URL: pdns.apiUrl,
    MYDNS_PDNS_API_KEY: pdns.apiKey,
    MYDNS_NAMESERVERS: 'ns1.example.net',
    MYDNS_OPERATOR_RECORDS: '@,www,*.lab',
  };
  const cli = (...args: string[]) =>
    runProgram(`${root}/node_modules/.bin/tsx`, ['apps/api/src/cli.ts', ...args], {
      cwd: root,
      env,
      timeoutMs: 60_000,
      mustSucceed: true,
    });
  const dry = await cli('reconcile', '--dry-run');
  assert.equal(
    dry.stdout,
    `missing AAAA ${name('beta')}. 2001:db8::2\n1 differences found (run without --dry-run to fix them)\n`,
  );
  assert.deepEqual(await mydns.query.aaaa(name('beta')), []);
  const fix = await cli('reconcile');
  assert.equal(fix.stdout, `missing AAAA ${name('beta')}. 2001:db8::2\n1 differences fixed\n`);
  assert.deepEqual(await mydns.query.aaaa(name('beta')), ['2001:db8::2']);
  assert.equal((await cli('reconcile')).stdout, `${mydns.zone}: PowerDNS matches Postgres\n`);
});
