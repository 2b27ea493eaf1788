import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * PowerDNS refusing one host's records (an operator's CNAME at the host's
 * name makes its A record a conflict, 422) must not block everybody else's
 * updates: that host gets dnserr, the others get good, in the same batch and
 * afterwards; and the reconciler repairs what it can and names what it cannot.
 */

let mydns: TestMyDns;
const PASSWORD = 'refused-password';

before(async () => {
  mydns = await startTestMyDns({ env: { MYDNS_RECONCILE_INTERVAL: '0' } });
});
after(async () => {
  await mydns?.stop();
});

test('one host PowerDNS refuses does not block the zone', async () => {
  for (const host of ['blocked', 'fine1', 'fine2', 'later']) await mydns.createHost(host, PASSWORD);
  await mydns.pdns.patchZone(mydns.zone, [
    { name: `blocked.${mydns.zone}`, type: 'CNAME', ttl: 60, records: [`elsewhere.example.org.`] },
  ]);
  const update = (host: string, ip: string) =>
    mydns.request(`/nic/update?hostname=${host}&myip=${ip}`, { auth: [host, PASSWORD] });
  const replies = await Promise.all([
    update('blocked', '198.51.100.1'),
    update('fine1', '198.51.100.2'),
    update('fine2', '198.51.100.3'),
  ]);
  assert.deepEqual(
    replies.map((r) => r.body),
    ['dnserr', 'good 198.51.100.2', 'good 198.51.100.3'],
  );
  assert.deepEqual(await mydns.query.a(`fine1.${mydns.zone}`), ['198.51.100.2']);
  assert.deepEqual(await mydns.query.a(`fine2.${mydns.zone}`), ['198.51.100.3']);
  // Nothing is stuck behind the refused host.
  assert.equal((await update('later', '198.51.100.4')).body, 'good 198.51.100.4');
  assert.deepEqual(await mydns.query.a(`later.${mydns.zone}`), ['198.51.100.4']);
  const pending = await mydns.db('dns_outbox').count<{ count: string }[]>({ count: '*' }).first();
  assert.equal(Number(pending?.count), 0);

  // The reconciler: the stray CNAME is removed, and then the A record can be written.
  const report = await mydns.services.reconciler.run({ dryRun: false });
  assert.ok(report.differences.some((d) => d.kind === 'extra' && d.type === 'CNAME'));
  assert.ok(
    report.differences.some(
      (d) => d.kind === 'missing' && d.type === 'A' && d.name === `blocked.${mydns.zone}.`,
    ),
  );
  const again = await mydns.services.reconciler.run({ dryRun: false });
  assert.deepEqual(again.differences, []);
  assert.deepEqual(await mydns.query.a(`blocked.${mydns.zone}`), ['198.51.100.1']);
});
