import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { type PrivatePowerDns, startPrivatePowerDns } from '../support/powerdns.ts';
import { waitFor } from '../support/wait.ts';

/** /metrics in the Prometheus text format, and /readyz naming what fails. */

let pdns: PrivatePowerDns;
let mydns: TestMyDns;
const PASSWORD = 'metrics-password';

before(async () => {
  pdns = await startPrivatePowerDns();
  // 5 s: a loaded machine still answers a good update in time; a PowerDNS that is down is waited out once.
  mydns = await startTestMyDns({ powerdns: pdns, env: { MYDNS_PUSH_TIMEOUT: '5s' } });
});
after(async () => {
  await mydns?.stop();
  await pdns?.remove();
});

function sample(text: string, metric: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${metric} `));
  return line === undefined ? undefined : Number(line.slice(metric.length + 1));
}

test('metrics count update results, latency, batches, caches and PowerDNS errors', async () => {
  await mydns.createHost('counted', PASSWORD);
  const auth: [string, string] = ['counted', PASSWORD];
  await mydns.request('/nic/update?hostname=counted&myip=198.51.100.1', { auth });
  await mydns.request('/nic/update?hostname=counted&myip=198.51.100.1', { auth });
  await mydns.request('/nic/update?hostname=counted&myip=198.51.100.1', { auth });
  await mydns.request('/nic/update?hostname=counted,other.example&myip=198.51.100.1', { auth });
  await mydns.request('/nic/update?hostname=counted', { auth: ['counted', 'wrong-password'] });

  const reply = await mydns.request('/metrics');
  assert.equal(reply.status, 200);
  assert.match(reply.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = reply.body;
  assert.equal(sample(text, 'mydns_update_results_total{code="good"}'), 1);
  assert.equal(sample(text, 'mydns_update_results_total{code="nochg"}'), 3);
  assert.equal(sample(text, 'mydns_update_results_total{code="nohost"}'), 1);
  assert.equal(sample(text, 'mydns_update_results_total{code="badauth"}'), 1);
  assert.ok(
    (sample(text, 'mydns_http_request_duration_seconds_count{route="update",method="GET",status="200"}') ??
      0) >= 4,
  );
  assert.ok((sample(text, 'mydns_zone_writer_batch_rrsets_count') ?? 0) >= 1);
  assert.ok((sample(text, 'mydns_powerdns_patch_seconds_count') ?? 0) >= 1);
  assert.equal(sample(text, 'mydns_dns_pending_changes'), 0);
  assert.equal(sample(text, 'mydns_zone_writer_waiting_requests'), 0);
  assert.ok((sample(text, 'mydns_credential_cache_hits_total') ?? 0) >= 2);
  assert.ok((sample(text, 'mydns_host_cache_hits_total') ?? 0) >= 1);
  assert.equal(sample(text, 'mydns_bcrypt_threads{state="busy"}'), 0);
  assert.ok(text.includes('mydns_process_resident_memory_bytes'));
  assert.ok(!text.includes('counted'), 'no host names in metric labels');
  assert.ok(!text.includes(PASSWORD));

  // PowerDNS down: /readyz says which dependency fails; errors and pending changes are counted.
  await pdns.stop();
  const ready = await mydns.request('/readyz');
  assert.equal(ready.status, 503);
  const body = JSON.parse(ready.body) as { status: string; failing: string[] };
  assert.equal(body.status, 'unavailable');
  assert.deepEqual(body.failing, ['powerdns']);
  assert.equal(
    (await mydns.request('/nic/update?hostname=counted&myip=198.51.100.2', { auth })).body,
    'dnserr',
  );
  const down = (await mydns.request('/metrics')).body;
  assert.ok((sample(down, 'mydns_powerdns_errors_total') ?? 0) >= 1);
  assert.equal(sample(down, 'mydns_dns_pending_changes'), 1);
  assert.equal(sample(down, 'mydns_update_results_total{code="dnserr"}'), 1);

  await pdns.restart();
  await waitFor(async () => (await mydns.request('/readyz')).status === 200, {
    message: 'ready again after PowerDNS is back',
    timeoutMs: 15_000,
  });
  assert.equal((await mydns.request('/healthz')).status, 200);
});
