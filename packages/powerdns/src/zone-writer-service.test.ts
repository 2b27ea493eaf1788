import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createLogger } from '@mydns/runtime';
import { createFakeClock } from '../../../test/support/fake-clock.ts';
import { createFakeDnsStore, host } from '../../../test/support/fake-dns-store.ts';
import { createFakePowerDns } from '../../../test/support/fake-powerdns.ts';
import { PowerDnsError } from './client.ts';
import { createZoneWriter, type ZoneWriterOptions } from './zone-writer.ts';

/**
 * The zone writer's logic in the fast tier: an in-memory outbox and PowerDNS
 * and a fake clock, so minutes of backoff take microseconds and every time
 * is exact. test/integration/powerdns-outage.test.ts keeps the real thing
 * (a real PowerDNS stopped and started under the real API).
 */

const ZONE = 'dyn.test';
const logger = createLogger({ level: 'debug', format: 'pretty', silent: !process.env.TEST_LOG });

function setup(options: Partial<ZoneWriterOptions> = {}) {
  const clock = createFakeClock();
  const powerdns = createFakePowerDns({ clock });
  powerdns.seed(ZONE, []);
  const store = createFakeDnsStore();
  const errors: unknown[] = [];
  const writer = createZoneWriter({
    zone: ZONE,
    ttl: 60,
    store,
    dns: powerdns.client,
    logger,
    clock,
    onError: (error) => errors.push(error),
    ...options,
  });
  /** When each PATCH was tried. */
  const attempts = () => powerdns.patches.map((patch) => patch.at);
  /** The A records PowerDNS serves for each host. */
  const served = () => powerdns.zone(ZONE).filter((line) => line.includes(' A '));
  return { clock, powerdns, store, writer, errors, attempts, served };
}

/** The hosts a PATCH wrote, in order, each once. */
const hostsOf = (patch: { entries: readonly { name: string }[] }) => [
  ...new Set(patch.entries.map((entry) => entry.name.replace(/^(_acme-challenge|\*)\./, '').split('.')[0])),
];

/** Records whether (and how) a push has settled, without awaiting it. */
function watch(promise: Promise<boolean>) {
  const state: { result: boolean | undefined } = { result: undefined };
  void promise.then((result) => {
    state.result = result;
  });
  return state;
}

describe('createZoneWriter: pushing', () => {
  test('a push resolves true once its change is in PowerDNS, with the rrsets of the row', async () => {
    const { clock, store, writer, served, powerdns } = setup();
    const id = store.change(host('alice', { ipv4: '198.51.100.1', ipv6: '2001:db8::1' }));
    const pushed = watch(writer.push(id, 3000));
    await clock.settle();
    assert.equal(pushed.result, true);
    assert.deepEqual(powerdns.zone(ZONE), [
      'alice.dyn.test. A 60 198.51.100.1',
      'alice.dyn.test. AAAA 60 2001:db8::1',
    ]);
    assert.deepEqual(served(), ['alice.dyn.test. A 60 198.51.100.1']);
    assert.deepEqual(store.pendingIds(), []);
    assert.equal(writer.stats().waiting, 0);
    await writer.stop();
  });

  test('group commit: changes queued while a PATCH is in flight go out together in the next one', async () => {
    const { clock, store, writer, powerdns, served } = setup();
    const release = powerdns.hold();
    const first = watch(writer.push(store.change(host('alice', { ipv4: '198.51.100.1' })), 3000));
    await clock.settle();
    const later = [
      store.change(host('bob', { ipv4: '198.51.100.2' })),
      store.change(host('carol', { ipv4: '198.51.100.3' })),
      store.change(host('alice', { ipv4: '198.51.100.11' })),
    ].map((id) => watch(writer.push(id, 3000)));
    await clock.settle();
    assert.equal(first.result, undefined, 'the first PATCH is still in flight');
    release();
    await clock.settle();
    assert.deepEqual(
      powerdns.patches.map(hostsOf),
      [['alice'], ['bob', 'carol', 'alice']],
      'two PATCHes: the first host alone, then everything that queued up meanwhile, each name once',
    );
    assert.deepEqual(
      [first, ...later].map((push) => push.result),
      [true, true, true, true],
    );
    assert.deepEqual(
      served(),
      [
        'alice.dyn.test. A 60 198.51.100.11',
        'bob.dyn.test. A 60 198.51.100.2',
        'carol.dyn.test. A 60 198.51.100.3',
      ],
      'the last committed value wins',
    );
    await writer.stop();
  });

  test('what a request waits for goes out in the next PATCH, ahead of a backlog nobody waits for', async () => {
    const { clock, store, writer, powerdns, served } = setup({ maxBatch: 4 });
    for (let i = 1; i <= 8; i++) store.change(host(`bg${i}`, { ipv4: `192.0.2.${i}` }));
    const pushed = watch(writer.push(store.change(host('alice', { ipv4: '198.51.100.1' })), 3000));
    await clock.settle();
    assert.equal(pushed.result, true);
    assert.deepEqual(powerdns.patches.map(hostsOf), [
      ['bg1', 'bg2', 'bg3', 'alice'],
      ['bg4', 'bg5', 'bg6', 'bg7'],
      ['bg8'],
    ]);
    assert.equal(served().length, 9);
    await writer.stop();
  });

  test('waiting requests take at most half a batch: the backlog still moves under a herd of them', async () => {
    const { clock, store, writer, powerdns } = setup({ maxBatch: 4 });
    const release = powerdns.hold();
    const opener = watch(writer.push(store.change(host('first', { ipv4: '198.51.100.99' })), 3000));
    await clock.settle();
    for (let i = 1; i <= 4; i++) store.change(host(`bg${i}`, { ipv4: `192.0.2.${i}` }));
    const herd = Array.from({ length: 6 }, (_, i) =>
      watch(writer.push(store.change(host(`h${i + 1}`, { ipv4: `198.51.100.${i + 1}` })), 3000)),
    );
    await clock.settle();
    release();
    await clock.settle();
    assert.deepEqual(powerdns.patches.map(hostsOf), [
      ['first'],
      ['bg1', 'bg2', 'h1', 'h2'],
      ['bg3', 'bg4', 'h3', 'h4'],
      ['h5', 'h6'],
    ]);
    assert.deepEqual(
      [opener, ...herd].map((push) => push.result),
      Array(7).fill(true),
    );
    await writer.stop();
  });

  test('a push is answered once PowerDNS has the change, before its outbox row is marked done', async () => {
    const { clock, store, writer, served } = setup();
    const release = store.holdComplete();
    const id = store.change(host('alice', { ipv4: '198.51.100.1' }));
    const pushed = watch(writer.push(id, 3000));
    await clock.settle();
    assert.deepEqual(served(), ['alice.dyn.test. A 60 198.51.100.1']);
    assert.equal(pushed.result, true, 'answered while the outbox row is being marked done');
    assert.deepEqual(store.pendingIds(), [id]);
    release();
    await clock.settle();
    assert.deepEqual(store.pendingIds(), []);
    await writer.stop();
  });

  test('if marking the rows done fails, they stay pending and are pushed again', async () => {
    const { clock, store, writer, powerdns } = setup();
    const fail = store.holdComplete();
    const id = store.change(host('alice', { ipv4: '198.51.100.1' }));
    const pushed = watch(writer.push(id, 3000));
    await clock.settle();
    fail(new Error('Connection terminated unexpectedly'));
    await clock.settle();
    assert.equal(pushed.result, true);
    assert.deepEqual(store.pendingIds(), [id], 'still pending after the failed transaction');
    await clock.advance(1000);
    assert.deepEqual(store.pendingIds(), [], 'pushed again after the backoff, and marked done');
    assert.deepEqual(powerdns.patches.map(hostsOf), [['alice'], ['alice']]);
    await writer.stop();
  });

  test('more rows than maxBatch: batch after batch until the outbox is empty', async () => {
    const { clock, store, writer, powerdns } = setup({ maxBatch: 2 });
    for (const [i, name] of ['a', 'b', 'c', 'd', 'e'].entries())
      store.change(host(name, { ipv4: `192.0.2.${i + 1}` }));
    writer.wake();
    await clock.settle();
    assert.deepEqual(powerdns.patches.map(hostsOf), [['a', 'b'], ['c', 'd'], ['e']]);
    assert.deepEqual(store.pendingIds(), []);
    await writer.stop();
  });

  test('PowerDNS refuses one host (422): the others go in, its push is false, and it is not retried', async () => {
    const { clock, store, writer, powerdns, served, errors } = setup();
    powerdns.refuse((name) => name === 'bob.dyn.test.');
    const pushes = ['alice', 'bob', 'carol'].map((name, i) =>
      watch(writer.push(store.change(host(name, { ipv4: `192.0.2.${i + 1}` })), 3000)),
    );
    await clock.settle();
    assert.deepEqual(
      pushes.map((push) => push.result),
      [true, false, true],
    );
    assert.deepEqual(served(), ['alice.dyn.test. A 60 192.0.2.1', 'carol.dyn.test. A 60 192.0.2.3']);
    assert.deepEqual(store.pendingIds(), [], 'the refused host is left for the reconciler, not retried');
    assert.equal(errors.length, 1, 'one error reported: the refused host');
    assert.equal(writer.stats().consecutiveFailures, 0, 'a refusal is not an outage');
    await clock.advance(60_000);
    assert.equal(
      powerdns.patches.length,
      4,
      'the batch, then alice, bob and carol one by one; nothing after',
    );
    await writer.stop();
  });

  test('record sets committed as the writer reads its batch: every push is taken, and the last set is served alone', async () => {
    const { clock, store, writer, powerdns } = setup();
    const records = (...list: [string, 'TXT' | 'CNAME', string][]) =>
      host('h', {
        records: list.map(([subname, type, content]) => ({ subname, type, content, ttl: 60 })),
      });
    const pushes = [watch(writer.push(store.change(records(['sw', 'TXT', 'one'])), 3000))];
    await clock.settle();
    // Set 2 (a CNAME at sw) is pending; set 3 (TXT at sw and n3) commits as the writer reads its
    // batch: the batch holds set 3's state, so it must hold set 3's row (and its stale CNAME) too.
    pushes.push(watch(writer.push(store.change(records(['sw', 'CNAME', 'x.example.']), ['TXT:sw']), 3000)));
    store.beforeNextBatch(() => {
      pushes.push(
        watch(
          writer.push(
            store.change(records(['sw', 'TXT', 'three'], ['n3', 'TXT', 'three']), ['CNAME:sw']),
            3000,
          ),
        ),
      );
      // And set 4 (the CNAME again) as it reads the next batch: PowerDNS holds set 3 by then.
      store.beforeNextBatch(() => {
        pushes.push(
          watch(
            writer.push(store.change(records(['sw', 'CNAME', 'y.example.']), ['TXT:n3', 'TXT:sw']), 3000),
          ),
        );
      });
    });
    await clock.settle();
    assert.deepEqual(
      pushes.map((push) => push.result),
      [true, true, true, true],
      `refused: ${powerdns.patches.filter((patch) => patch.outcome === 'refused').length} PATCHes`,
    );
    assert.deepEqual(
      powerdns.zone(ZONE).filter((line) => line.includes('.h.dyn.test.')),
      ['sw.h.dyn.test. CNAME 60 y.example.'],
    );
    await writer.stop();
  });

  test('a row another replica pushed: the waiting request is told true, with no PATCH of ours', async () => {
    const { clock, store, writer, powerdns } = setup();
    const id = store.change(host('alice', { ipv4: '192.0.2.1' }));
    store.pushedElsewhere([id]);
    const pushed = watch(writer.push(id, 3000));
    await clock.settle();
    assert.equal(pushed.result, true);
    assert.equal(powerdns.patches.length, 0);
    await writer.stop();
  });

  test('with secondaries, each batch that changed something is followed by a NOTIFY', async () => {
    for (const notifySecondaries of [true, false]) {
      const { clock, store, writer, powerdns } = setup({ notifySecondaries });
      await writer.push(store.change(host('alice', { ipv4: '192.0.2.1' })), 3000);
      writer.wake();
      await clock.settle();
      assert.equal(powerdns.notifies(), notifySecondaries ? 1 : 0, `notifySecondaries: ${notifySecondaries}`);
      await writer.stop();
    }
  });

  test('with a NOTIFY interval, batches within it are announced by one NOTIFY at its end; the last one is never left out', async () => {
    const { clock, store, writer, powerdns } = setup({ notifySecondaries: true, notifyIntervalMs: 5000 });
    const ids: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      ids.push(store.change(host(`h${batch}`, { ipv4: `192.0.2.${batch + 1}` })));
      assert.equal(await writer.push(ids.at(-1) ?? 0, 3000), true);
      await clock.advance(400);
    }
    assert.equal(powerdns.patches.length, 10, 'ten batches');
    assert.equal(powerdns.notifies(), 1, 'the first batch announced at once, the next nine wait');
    await clock.advance(1000);
    assert.equal(powerdns.notifies(), 2, 'the nine together when the interval ends');
    store.change(host('last', { ipv4: '192.0.2.99' }));
    writer.wake();
    await clock.settle();
    assert.equal(powerdns.notifies(), 2, 'within the next interval: later');
    await writer.stop();
    assert.equal(powerdns.notifies(), 3, 'stopping announces what is due');
  });

  test('the sweep picks up a change queued without a wake (a crash, another replica)', async () => {
    const { clock, store, writer, served } = setup({ sweepIntervalMs: 5000 });
    writer.start();
    await clock.settle();
    store.change(host('alice', { ipv4: '192.0.2.1' }));
    await clock.advance(4999);
    assert.deepEqual(served(), []);
    await clock.advance(1);
    assert.deepEqual(served(), ['alice.dyn.test. A 60 192.0.2.1']);
    await writer.stop();
  });

  test('flush pushes everything pending, and rejects when PowerDNS fails', async () => {
    const { store, writer, powerdns, served } = setup();
    store.change(host('alice', { ipv4: '192.0.2.1' }));
    await writer.flush();
    assert.deepEqual(served(), ['alice.dyn.test. A 60 192.0.2.1']);
    powerdns.down();
    store.change(host('alice', { ipv4: '192.0.2.2' }));
    await assert.rejects(writer.flush(), PowerDnsError);
    assert.equal(store.pendingIds().length, 1, 'the change stays pending');
    await writer.stop();
  });
});

describe('createZoneWriter: PowerDNS down, backoff and recovery', () => {
  /** Takes PowerDNS down and lets the writer fail until `until` ms; returns the setup. */
  async function outage(until: number, options: Partial<ZoneWriterOptions> = {}) {
    const s = setup(options);
    s.powerdns.down();
    s.store.change(host('alice', { ipv4: '198.51.100.1' }));
    s.writer.wake();
    await s.clock.advance(until);
    return s;
  }

  test('attempts back off 250 ms, 500 ms, 1 s … doubling up to 10 s; the change stays pending', async () => {
    const { attempts, store, writer } = await outage(60_000);
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750, 7750, 15_750, 25_750, 35_750, 45_750, 55_750]);
    assert.equal(store.pendingIds().length, 1);
    const stats = writer.stats();
    assert.equal(stats.consecutiveFailures, 11);
    assert.match(stats.lastError ?? '', /ECONNREFUSED/);
    await writer.stop();
  });

  test('retryMinMs and retryMaxMs set the schedule', async () => {
    const { attempts, writer } = await outage(10_000, { retryMinMs: 1000, retryMaxMs: 3000 });
    assert.deepEqual(attempts(), [0, 1000, 3000, 6000, 9000]);
    await writer.stop();
  });

  test('once PowerDNS is back, the next attempt pushes the last committed value and the failures reset', async () => {
    const { clock, attempts, store, writer, powerdns, served } = await outage(4000);
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750]);
    store.change(host('alice', { ipv4: '198.51.100.2' }));
    powerdns.up();
    await clock.advance(3749);
    assert.equal(attempts().length, 5, 'no client waits: the backoff runs its course');
    await clock.advance(1);
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750, 7750]);
    assert.deepEqual(served(), ['alice.dyn.test. A 60 198.51.100.2']);
    assert.deepEqual(store.pendingIds(), []);
    assert.deepEqual(writer.stats(), { waiting: 0, consecutiveFailures: 0, lastError: undefined });
    await clock.advance(60_000);
    assert.equal(attempts().length, 6, 'nothing more to do');
    await writer.stop();
  });

  test('a push that PowerDNS does not take in time resolves false and its change stays pending', async () => {
    const { clock, store, writer } = await outage(0);
    const id = store.change(host('alice', { ipv4: '198.51.100.3' }));
    const pushed = watch(writer.push(id, 700));
    await clock.advance(699);
    assert.equal(pushed.result, undefined);
    await clock.advance(1);
    assert.equal(pushed.result, false);
    assert.ok(store.pendingIds().includes(id));
    assert.equal(writer.stats().waiting, 0);
    await writer.stop();
  });

  test('a request waiting for PowerDNS cuts a long backoff short', async () => {
    // Last failure at 3750, backoff until 7750; PowerDNS is back at 5000.
    const { clock, attempts, store, writer, powerdns } = await outage(5000);
    powerdns.up();
    const pushed = watch(writer.push(store.change(host('alice', { ipv4: '198.51.100.4' })), 700));
    await clock.settle();
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750, 5000]);
    assert.equal(pushed.result, true);
    await writer.stop();
  });

  test('a request that comes soon after a failure is tried a second after it, not at the end of the backoff', async () => {
    // Last failure at 3750, backoff until 7750; the request comes at 4050, PowerDNS is back.
    const { clock, attempts, store, writer, powerdns } = await outage(4050);
    powerdns.up();
    const pushed = watch(writer.push(store.change(host('alice', { ipv4: '198.51.100.5' })), 3000));
    await clock.advance(699);
    assert.equal(attempts().length, 5, 'attempts stay a second apart');
    await clock.advance(1);
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750, 4750]);
    assert.equal(pushed.result, true);
    await writer.stop();
  });

  test('a request already waiting when an attempt fails is tried again a second later', async () => {
    const { clock, attempts, store, writer, powerdns } = await outage(4750);
    // At 4750 a request cuts the backoff short; that attempt fails too (the backoff is now 8 s).
    const pushed = watch(writer.push(store.change(host('alice', { ipv4: '198.51.100.6' })), 3000));
    await clock.settle();
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750, 4750]);
    powerdns.up();
    await clock.advance(1000);
    assert.deepEqual(attempts(), [0, 250, 750, 1750, 3750, 4750, 5750]);
    assert.equal(pushed.result, true);
    await writer.stop();
  });

  test('requests arriving all through an outage make one attempt a second, not one per request', async () => {
    const { clock, attempts, store, writer } = await outage(3750);
    // A request every 100 ms from 3750 to 8550; the last failure before them was at 3750.
    for (let i = 0; i < 49; i++) {
      void writer.push(store.change(host('alice', { ipv4: `198.51.100.${i + 10}` })), 700);
      await clock.advance(100);
    }
    assert.deepEqual(attempts().slice(5), [4750, 5750, 6750, 7750]);
    await writer.stop();
  });

  test('stop ends the backoff at once, tells waiting requests false, and tries no more', async () => {
    const { clock, attempts, store, writer } = await outage(4000);
    const pushed = watch(writer.push(store.change(host('alice', { ipv4: '198.51.100.7' })), 60_000));
    await writer.stop();
    await clock.settle();
    assert.equal(pushed.result, false);
    const tried = attempts().length;
    await clock.advance(60_000);
    assert.equal(attempts().length, tried);
  });
});
