import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '@mydns/runtime';
import { createFakeDnsStore, host } from '../../../test/support/fake-dns-store.ts';
import { createFakePowerDns } from '../../../test/support/fake-powerdns.ts';
import { createReconciler, type ReconcilerOptions } from './reconciler.ts';

/**
 * The reconciler around diffZone (zone-diff.test.ts has every kind of
 * drift): what it writes, under which lock, and what it reports, with an
 * in-memory PowerDNS and store. test/integration/reconcile.test.ts runs it
 * against a real PowerDNS.
 */

const ZONE = 'dyn.test';
const logger = createLogger({ level: 'debug', format: 'pretty', silent: !process.env.TEST_LOG });

async function setup(options: Partial<ReconcilerOptions> = {}) {
  const powerdns = createFakePowerDns();
  await powerdns.client.createZone({
    name: ZONE,
    kind: 'Native',
    nameservers: ['ns1.example.net'],
    soa: { ttl: 300, content: 'ns1.example.net. hostmaster.dyn.test. 1 10800 3600 604800 60' },
  });
  const store = createFakeDnsStore([
    host('alice', { ipv4: '198.51.100.1' }),
    host('bob', { ipv6: '2001:db8::2', acme: ['bob-token'] }),
  ]);
  const reconciler = createReconciler({
    zone: ZONE,
    ttl: 60,
    nameservers: ['ns1.example.net'],
    relayAddresses: ['192.0.2.25'],
    operatorRecords: [],
    store,
    dns: powerdns.client,
    logger,
    ...options,
  });
  return { powerdns, store, reconciler };
}

const HEALTHY = [
  '*.mx.dyn.test. A 60 192.0.2.25',
  '_acme-challenge.bob.dyn.test. TXT 60 "bob-token"',
  'alice.dyn.test. A 60 198.51.100.1',
  'bob.dyn.test. AAAA 60 2001:db8::2',
  'dyn.test. NS 3600 ns1.example.net.',
  'mx.dyn.test. A 60 192.0.2.25',
];

describe('createReconciler', () => {
  test('a dry run only reports; a run repairs in one PATCH, removals first; then nothing is left', async () => {
    const { powerdns, reconciler } = await setup();
    await powerdns.client.patchZone(ZONE, [
      { name: `alice.${ZONE}`, type: 'CNAME', ttl: 60, records: ['elsewhere.example.org.'] },
    ]);
    const before = powerdns.zone(ZONE);
    const dry = await reconciler.run({ dryRun: true });
    assert.equal(dry.differences.length, 6);
    assert.deepEqual(powerdns.zone(ZONE), before, 'a dry run changes nothing');

    const patches = powerdns.patches.length;
    const report = await reconciler.run({ dryRun: false });
    assert.deepEqual(
      { differences: report.differences.length, fixed: report.fixed, unfixed: report.unfixed },
      { differences: 6, fixed: true, unfixed: [] },
    );
    assert.equal(powerdns.patches.length, patches + 1, 'one PATCH');
    const entries = powerdns.patches.at(-1)?.entries ?? [];
    const firstWrite = entries.findIndex((entry) => entry.records.length > 0);
    assert.ok(
      entries.slice(firstWrite).every((entry) => entry.records.length > 0),
      'removals first: the CNAME is gone before the A beside it is written',
    );
    assert.deepEqual(powerdns.zone(ZONE), HEALTHY);
    assert.deepEqual((await reconciler.run({ dryRun: false })).differences, []);
  });

  test('PowerDNS is read from the zone export, never as the whole zone in one JSON', async () => {
    const { powerdns, store } = await setup();
    // At a million rrsets that JSON takes PowerDNS longer than a call's timeout and the API about a gigabyte.
    const reconciler = createReconciler({
      zone: ZONE,
      ttl: 60,
      nameservers: ['ns1.example.net'],
      relayAddresses: ['192.0.2.25'],
      operatorRecords: [],
      store,
      dns: {
        ...powerdns.client,
        listRrsets: (zone, filter) => {
          if (!filter) throw new Error('read the whole zone as JSON');
          return powerdns.client.listRrsets(zone, filter);
        },
      },
      logger,
    });
    await powerdns.client.patchZone(ZONE, [
      { name: `gone.${ZONE}`, type: 'A', ttl: 60, records: ['198.51.100.9'] },
      { name: `bob.${ZONE}`, type: 'AAAA', ttl: 60, records: ['2001:db8::99'] },
    ]);
    const report = await reconciler.run({ dryRun: false });
    assert.equal(report.fixed, true);
    assert.deepEqual(powerdns.zone(ZONE), HEALTHY);
  });

  test('the zone is read once when nothing differs, twice when a host does, and what differs is repaired', async () => {
    const { powerdns, store } = await setup({ operatorRecords: ['www'] });
    let exports = 0;
    const reconciler = createReconciler({
      zone: ZONE,
      ttl: 60,
      nameservers: ['ns1.example.net'],
      relayAddresses: ['192.0.2.25'],
      operatorRecords: ['www'],
      store,
      dns: {
        ...powerdns.client,
        exportRecords: (zone, onRecord, options) => {
          exports++;
          return powerdns.client.exportRecords(zone, onRecord, options);
        },
      },
      logger,
    });
    await reconciler.run({ dryRun: false });
    // The operator's own name at the top of the zone: no host has it, and it is never read again for it.
    powerdns.seed(ZONE, [{ name: `www.${ZONE}`, type: 'A', ttl: 300, records: ['192.0.2.80'] }]);
    exports = 0;
    assert.deepEqual((await reconciler.run({ dryRun: false })).differences, []);
    assert.equal(exports, 1, 'a healthy zone: one read');

    await powerdns.client.patchZone(ZONE, [
      { name: `alice.${ZONE}`, type: 'A', ttl: 60, records: ['198.51.100.66'] },
      { name: `gone.${ZONE}`, type: 'A', ttl: 60, records: ['198.51.100.9'] },
      { name: `_acme-challenge.bob.${ZONE}`, type: 'TXT', ttl: 60, records: [] },
    ]);
    exports = 0;
    const report = await reconciler.run({ dryRun: false });
    assert.equal(exports, 2, 'the hosts that differ are read again');
    assert.deepEqual(
      report.differences.map((d) => `${d.kind} ${d.type} ${d.name} ${d.have} → ${d.want}`).sort(),
      [
        'extra A gone.dyn.test. 198.51.100.9 → ',
        'missing TXT _acme-challenge.bob.dyn.test.  → "bob-token"',
        'wrong A alice.dyn.test. 198.51.100.66 → 198.51.100.1',
      ],
    );
    assert.deepEqual(
      powerdns.zone(ZONE).filter((line) => !line.startsWith('www.')),
      HEALTHY,
    );
    assert.ok(powerdns.zone(ZONE).includes('www.dyn.test. A 300 192.0.2.80'), 'the operator’s record stays');
  });

  test('a wiped PowerDNS: the zone is created and rebuilt from Postgres', async () => {
    const { powerdns, reconciler } = await setup();
    await powerdns.client.deleteZone(ZONE);
    const report = await reconciler.run({ dryRun: false });
    assert.equal(report.zoneCreated, true);
    assert.deepEqual(powerdns.zone(ZONE), HEALTHY);
    assert.match(powerdns.zone(ZONE, { withSoa: true }).find((line) => line.includes(' SOA ')) ?? '', / 60$/);
  });

  test('hosts are written as their rows are under the lock, not as they were read before it', async () => {
    const { powerdns, store, reconciler } = await setup();
    await reconciler.run({ dryRun: false });
    await powerdns.client.patchZone(ZONE, [{ name: `alice.${ZONE}`, type: 'A', ttl: 60, records: [] }]);
    const locked = store.withZoneLock.bind(store);
    // The update that commits while the reconciler is between its read and the lock.
    store.withZoneLock = (zone, work) => {
      store.change(host('alice', { ipv4: '198.51.100.77' }));
      return locked(zone, work);
    };
    const report = await reconciler.run({ dryRun: false });
    assert.deepEqual(
      report.differences.map((d) => `${d.kind} ${d.name} ${d.want.join(' ')}`),
      ['missing alice.dyn.test. 198.51.100.1'],
      'found against the rows it read',
    );
    assert.ok(
      powerdns.zone(ZONE).includes('alice.dyn.test. A 60 198.51.100.77'),
      'written from the newer row',
    );
  });

  test('PowerDNS refuses one rrset (422): the others are repaired and it is named', async () => {
    const { powerdns, reconciler } = await setup();
    await powerdns.client.deleteZone(ZONE);
    await reconciler.run({ dryRun: false });
    await powerdns.client.patchZone(ZONE, [
      { name: `alice.${ZONE}`, type: 'A', ttl: 60, records: [] },
      { name: `bob.${ZONE}`, type: 'AAAA', ttl: 60, records: [] },
    ]);
    powerdns.refuse((name) => name === `bob.${ZONE}.`);
    const report = await reconciler.run({ dryRun: false });
    assert.equal(report.fixed, false);
    assert.ok(
      report.unfixed?.some((problem) => problem.startsWith('AAAA bob.dyn.test.:')),
      'bob is named',
    );
    assert.ok(!report.unfixed?.some((problem) => problem.includes('alice')), 'alice is not');
    assert.ok(powerdns.zone(ZONE).includes('alice.dyn.test. A 60 198.51.100.1'));
  });

  test('an operator’s name that a host also has: the operator’s records stay, and the clash is reported', async () => {
    const { powerdns, store, reconciler } = await setup({ operatorRecords: ['printer'] });
    await reconciler.run({ dryRun: false });
    powerdns.seed(ZONE, [
      { name: `printer.${ZONE}`, type: 'A', ttl: 300, records: ['192.0.2.81'] },
      { name: `printer.${ZONE}`, type: 'TXT', ttl: 300, records: ['"the operator’s"'] },
    ]);
    store.put(host('printer', { ipv4: '198.51.100.5' }));
    // alice drifts too, so the reconciler has something to write.
    await powerdns.client.patchZone(ZONE, [{ name: `alice.${ZONE}`, type: 'A', ttl: 60, records: [] }]);
    const report = await reconciler.run({ dryRun: false });
    assert.deepEqual(
      powerdns.zone(ZONE).filter((line) => line.startsWith('printer.')),
      ['printer.dyn.test. A 300 192.0.2.81', 'printer.dyn.test. TXT 300 "the operator’s"'],
    );
    assert.deepEqual(
      report.refused.map((d) => `${d.kind} ${d.type} ${d.name}`),
      ['wrong A printer.dyn.test.'],
    );
    assert.ok(powerdns.zone(ZONE).includes('alice.dyn.test. A 60 198.51.100.1'));
  });

  test('a pass takes its share of the time: between pages it pauses for their work × (1 − share) ÷ share', async () => {
    // 12,000 hosts: three pages of Postgres, each taking 10 ms of work here.
    const rows = Array.from({ length: 12_000 }, (_, i) => host(`h${i}`, { ipv4: '198.51.100.1' }));
    let now = 0;
    const sleeps: number[] = [];
    const store = createFakeDnsStore(rows);
    const allHostStates = store.allHostStates.bind(store);
    store.allHostStates = async (zone, after, limit) => {
      now += 10;
      return allHostStates(zone, after, limit);
    };
    const { reconciler } = await setup({
      store,
      share: 0.2,
      pacing: {
        now: () => now,
        sleep: async (ms) => {
          sleeps.push(ms);
        },
      },
    });
    await reconciler.run({ dryRun: true });
    assert.deepEqual(
      sleeps.filter((ms) => ms > 0),
      [40, 40],
    );
  });
});
