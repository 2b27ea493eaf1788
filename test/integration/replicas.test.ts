import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createPowerDnsClient } from '@mydns/powerdns';
import { createDnsQuery } from '../support/dns.ts';
import {
  type ApiProcess,
  type FaultProxy,
  inParallel,
  pendingPushes,
  postgresAddresses,
  powerDnsRecords,
  registerHosts,
  sendUpdate,
  sql,
  startApiProcess,
  startFaultProxy,
  stopAllApiProcesses,
} from '../support/faults.ts';
import { harness } from '../support/harness.ts';
import { createTestDatabase, uniqueZone } from '../support/mydns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * Several API replicas (docs/operations.md, "Scaling"): two API processes (`apps/api/src/main.ts`)
 * on one Postgres database, one PowerDNS and one zone. Concurrent updates
 * through both end with one A record per host, equal to the last value
 * Postgres committed, in PowerDNS and in real DNS answers. Changes one
 * replica committed but could not push are pushed by the other after the
 * first one stopped, with no client sending anything.
 *
 * Replica A reaches PowerDNS through a fault proxy (a TCP relay the test can
 * cut), so that its PATCHes can fail for real while B's path stays healthy.
 */

const PASSWORD = 'replica-password';
let database: { url: string; drop(): Promise<void> };
let zone: string;
let proxy: FaultProxy;
let a: ApiProcess;
let b: ApiProcess;

const pdns = () => ({ apiUrl: harness().pdnsApiUrl, apiKey: harness().pdnsApiKey });
const dns = () => createDnsQuery(harness().dnsPort);

before(async () => {
  database = await createTestDatabase();
  zone = uniqueZone();
  proxy = await startFaultProxy({ host: '127.0.0.1', port: Number(new URL(harness().pdnsApiUrl).port) });
  const common = {
    databaseUrl: database.url,
    zone,
    // A generous push deadline: a loaded test machine must not turn a slow push into dnserr.
    env: { MYDNS_HOST_UPDATE_LIMIT: '100000/10m', MYDNS_DB_POOL_SIZE: '10', MYDNS_PUSH_TIMEOUT: '8s' },
  };
  // One after the other: the first creates the zone, the second finds it.
  a = await startApiProcess({ ...common, name: 'replica-a', powerdns: { ...pdns(), apiUrl: proxy.url } });
  b = await startApiProcess({ ...common, name: 'replica-b', powerdns: pdns() });
});

after(async () => {
  await stopAllApiProcesses();
  await proxy?.close();
  await createPowerDnsClient(pdns())
    .deleteZone(zone)
    .catch(() => undefined);
  await database?.drop();
});

/** Postgres, PowerDNS and DNS agree on every host in `names`; returns what Postgres holds. */
async function assertConsistent(names: readonly string[]): Promise<Map<string, string | null>> {
  const inPostgres = await postgresAddresses(database.url);
  const inPowerDns = await powerDnsRecords(pdns(), zone);
  const committed = new Map<string, string | null>();
  for (const name of names) {
    const ipv4 = inPostgres.get(name)?.ipv4 ?? null;
    committed.set(name, ipv4);
    const expected = ipv4 === null ? [] : [ipv4];
    assert.deepEqual(inPowerDns.get(name) ?? [], expected, `PowerDNS A of ${name} (Postgres: ${ipv4})`);
    assert.deepEqual(
      await dns().a(`${name}.${zone}`),
      expected,
      `DNS answer for ${name} (Postgres: ${ipv4})`,
    );
  }
  return committed;
}

test('concurrent updates of many hosts through both replicas: one A record each, the last committed value', async () => {
  const names = Array.from({ length: 30 }, (_, i) => `many${i}`);
  await registerHosts(a.url, names, PASSWORD);
  // Five rounds per host, every request a new address, the replica alternating; all in flight together.
  const requests = names.flatMap((name, i) =>
    Array.from({ length: 5 }, (_, round) => ({
      name,
      ip: `10.${round + 1}.${i}.1`,
      replica: (i + round) % 2 === 0 ? a : b,
    })),
  );
  const replies = await inParallel(requests, 40, (r) => sendUpdate(r.replica.url, r.name, PASSWORD, r.ip));
  const wrong = replies
    .map((reply, i) => ({ ...requests[i], replica: requests[i]?.replica.name, reply }))
    .filter((r) => r.reply.status !== 200 || r.reply.body !== `good ${r.ip}`);
  assert.deepEqual(wrong, [], 'every update is answered good with its own address');

  await waitFor(async () => (await pendingPushes(database.url)) === 0, { message: 'the outbox to drain' });
  const committed = await assertConsistent(names);
  for (const [i, name] of names.entries()) {
    const sent = Array.from({ length: 5 }, (_, round) => `10.${round + 1}.${i}.1`);
    assert.ok(sent.includes(committed.get(name) ?? ''), `${name} holds one of the addresses it was sent`);
  }
});

test('concurrent updates of one host through both replicas: one A record, the last committed value', async () => {
  await registerHosts(b.url, ['busy'], PASSWORD);
  const ips = Array.from({ length: 60 }, (_, i) => `10.200.${i >> 4}.${(i % 16) + 1}`);
  const replies = await inParallel(ips, 60, (ip, i) =>
    sendUpdate((i % 2 === 0 ? a : b).url, 'busy', PASSWORD, ip),
  );
  const wrong = replies
    .map((reply, i) => ({ ip: ips[i], reply }))
    .filter(
      (r) =>
        r.reply.status !== 200 || !/^(good|nochg) /.test(r.reply.body) || !r.reply.body.endsWith(` ${r.ip}`),
    );
  assert.deepEqual(wrong, [], 'every update is answered good (or nochg) with its own address');

  await waitFor(async () => (await pendingPushes(database.url)) === 0, { message: 'the outbox to drain' });
  const committed = await assertConsistent(['busy']);
  assert.ok(ips.includes(committed.get('busy') ?? ''), 'Postgres holds one of the addresses sent');
});

test('changes a stopped replica could not push are pushed by the other one, with no client request', async () => {
  const names = Array.from({ length: 10 }, (_, i) => `pend${i}`);
  await registerHosts(b.url, names, PASSWORD);
  for (const [i, name] of names.entries()) {
    assert.equal((await sendUpdate(b.url, name, PASSWORD, `10.50.0.${i + 1}`)).body, `good 10.50.0.${i + 1}`);
  }
  await assertConsistent(names);

  // B is paused, so that its 5-second sweep cannot take A's changes while A
  // still runs: what B pushes later is then exactly what a stopped replica left.
  // Pause it outside the zone writer's transaction (it holds the advisory lock
  // only inside one); try again if caught inside.
  await waitFor(
    async () => {
      b.signal('SIGSTOP');
      const [locks] = await sql<{ count: string }>(
        database.url,
        "select count(*) from pg_locks where locktype = 'advisory' and granted",
      );
      if (Number(locks?.count) === 0) return true;
      b.signal('SIGCONT');
      return false;
    },
    { message: 'replica B paused outside the zone lock', intervalMs: 50, timeoutMs: 5000 },
  );

  try {
    // A loses its path to PowerDNS: every PATCH it tries fails.
    proxy.setMode('reset');
    const moved = names.map((_, i) => `10.60.0.${i + 1}`);
    const replies = await Promise.all(
      names.map((name, i) => sendUpdate(a.url, name, PASSWORD, moved[i] ?? '')),
    );
    for (const reply of replies) assert.deepEqual(reply, { status: 200, body: 'dnserr' });
    const committed = await postgresAddresses(database.url);
    for (const [i, name] of names.entries()) assert.equal(committed.get(name)?.ipv4, moved[i]);
    const queued = await sql<{ name: string }>(
      database.url,
      'select distinct name from dns_outbox order by name',
    );
    assert.deepEqual(
      queued.map((row) => row.name),
      [...names].sort(),
    );

    const exit = await a.stop();
    assert.deepEqual(
      exit,
      { code: 0, signal: null },
      `replica A stops cleanly on SIGTERM:\n${a.output().slice(-2000)}`,
    );
    // A left its changes pending (it neither pushed nor dropped them) …
    assert.equal(await pendingPushes(database.url), names.length);
    const stale = await powerDnsRecords(pdns(), zone);
    for (const [i, name] of names.entries()) assert.deepEqual(stale.get(name), [`10.50.0.${i + 1}`]);
  } finally {
    b.signal('SIGCONT');
  }

  // … and B, running again, pushes them on its own.
  const resumed = Date.now();
  await waitFor(async () => (await pendingPushes(database.url)) === 0, {
    message: 'replica B to push what A left',
    timeoutMs: 15_000,
  });
  const tookMs = Date.now() - resumed;
  const committed = await assertConsistent(names);
  for (const [i, name] of names.entries()) assert.equal(committed.get(name), `10.60.0.${i + 1}`);
  assert.ok(tookMs < 8000, `B's sweep (every 5 s) picked the changes up within ${tookMs} ms`);
  assert.ok(b.isAlive());
  assert.equal((await sendUpdate(b.url, 'pend0', PASSWORD, '10.70.0.1')).body, 'good 10.70.0.1');
  assert.deepEqual(await dns().a(`pend0.${zone}`), ['10.70.0.1']);
});
