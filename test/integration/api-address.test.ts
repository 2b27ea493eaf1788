import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { buildSetups } from '../../apps/api/src/web/setups.ts';
import { harness } from '../support/harness.ts';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { requireProgram, runProgram } from '../support/programs.ts';
import { noteSecret } from '../support/secrets.ts';

/**
 * MYDNS_API_ADDRESS (README "Configuring clients", each family from its own
 * connection): every zone publishes update.<zone> (both families),
 * update4.<zone> (A only) and update6.<zone> (AAAA only), in real DNS
 * answers; the reconciler keeps them; the setups use them.
 */

let mydns: TestMyDns;
const second = `second.${Date.now().toString(36)}.test`;

before(async () => {
  mydns = await startTestMyDns({
    env: {
      MYDNS_API_ADDRESS: '192.0.2.53, 2001:db8::53',
      MYDNS_ZONES: `${`z${Date.now().toString(36)}.test`},${second}`,
    },
  });
});
after(async () => {
  await mydns?.stop();
});

test('update, update4 and update6 in every zone; the reconciler restores them', async () => {
  for (const zone of mydns.config.zones) {
    assert.deepEqual(await mydns.query.a(`update.${zone}`), ['192.0.2.53']);
    assert.deepEqual(await mydns.query.aaaa(`update.${zone}`), ['2001:db8::53']);
    assert.deepEqual(await mydns.query.a(`update4.${zone}`), ['192.0.2.53']);
    assert.deepEqual(await mydns.query.aaaa(`update4.${zone}`), []);
    assert.deepEqual(await mydns.query.a(`update6.${zone}`), []);
    assert.deepEqual(await mydns.query.aaaa(`update6.${zone}`), ['2001:db8::53']);
  }
  await mydns.pdns.patchZone(second, [{ name: `update4.${second}`, type: 'A', ttl: 60, records: [] }]);
  await mydns.services.reconciler.run({ dryRun: false });
  assert.deepEqual(await mydns.query.a(`update4.${second}`), ['192.0.2.53']);
  // The names are not registrable.
  const taken = await mydns.request('/api/v1/hosts', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ hostname: 'update6', password: 'a-long-password-1' }),
  });
  assert.equal(JSON.parse(taken.body).error.code, 'hostname_reserved');
});

test('the setups update each family over its own connection', () => {
  const setups = buildSetups({
    baseUrl: 'https://dyn.example.net',
    hostname: 'alice.dyn.example.net',
    secret: 'TOKEN',
    familyHosts: { v4: 'update4.dyn.example.net', v6: 'update6.dyn.example.net' },
  });
  const dual = setups.find((setup) => setup.id === 'curl-dual-stack');
  assert.match(dual?.code ?? '', /curl -sS -4 'https:\/\/update4\.dyn\.example\.net\/u\.php\?hostname=alice/);
  assert.match(dual?.code ?? '', /curl -sS -6 'https:\/\/update6\.dyn\.example\.net\/u\.php\?hostname=alice/);
  const fritz = setups.find((setup) => setup.id === 'fritzbox');
  assert.match(fritz?.code ?? '', /myip=<ipaddr>,<ip6addr>&ip6lanprefix=<ip6lanprefix>/);
  const openwrt = setups.find((setup) => setup.id === 'openwrt');
  assert.match(
    openwrt?.note ?? '',
    /update6\.dyn\.example\.net\/nic\/update\?hostname=\[DOMAIN\]&myipv6=\[IP\]&ip6lanprefix=\[IP\]\/64/,
  );
  assert.equal(
    buildSetups({ baseUrl: 'https://dyn.example.net', hostname: 'a.dyn.example.net', secret: 'T' }).some(
      (setup) => setup.id === 'curl-dual-stack',
    ),
    false,
    'not offered without MYDNS_API_ADDRESS',
  );
});

test('the dual-stack setup’s own command lines, run: A from the IPv4 connection, AAAA from the IPv6 one', async () => {
  // One replica on 127.0.0.1 and one on ::1, on the same database, publishing them as the API's addresses.
  const addresses = { MYDNS_API_ADDRESS: '127.0.0.1, ::1' };
  const v4 = await startTestMyDns({ env: addresses });
  const v6 = await startTestMyDns({
    database: { url: v4.databaseUrl },
    env: { ...addresses, MYDNS_ZONE: v4.zone },
    httpAddress: '::1',
  });
  try {
    const zone = v4.zone;
    await v4.createHost('dual', 'two-families-secret-1');
    const made = await v4.request('/api/v1/hosts/dual/tokens', {
      method: 'POST',
      auth: ['dual', 'two-families-secret-1'],
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'cron' }),
    });
    assert.equal(made.status, 201, made.body);
    const { token } = JSON.parse(made.body) as { token: string };
    noteSecret(token);
    const dual = buildSetups({
      baseUrl: `http://${zone}`,
      hostname: `dual.${zone}`,
      secret: token,
      familyHosts: { v4: `update4.${zone}`, v6: `update6.${zone}` },
    }).find((setup) => setup.id === 'curl-dual-stack');
    assert.ok(dual);
    // The names as DNS publishes them, each to the replica listening there (curl --connect-to,
    // added by a `curl` first on PATH, so the lines run exactly as the page shows them).
    const [v4Address] = await v4.query.a(`update4.${zone}`);
    const [v6Address] = await v4.query.aaaa(`update6.${zone}`);
    assert.equal(v4Address, '127.0.0.1');
    assert.equal(v6Address, '::1');
    const bin = mkdtempSync(join(harness().workDir, 'dual-stack-'));
    const curl = requireProgram('curl', 'curl');
    writeFileSync(
      join(bin, 'curl'),
      [
        '#!/bin/sh',
        `exec ${curl} --connect-to update4.${zone}:80:${v4Address}:${v4.port} --connect-to update6.${zone}:80:[${v6Address}]:${v6.port} "$@"`,
        '',
      ].join('\n'),
    );
    chmodSync(join(bin, 'curl'), 0o755);
    const lines = dual.code.split('\n');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      // The crontab line without its schedule: silent when the update worked.
      const command = line.replace(/^\*\/5 \* \* \* \* /, '');
      assert.notEqual(command, line, line);
      const run = await runProgram('/bin/sh', ['-c', command], {
        env: { PATH: `${bin}:${process.env.PATH}` },
        timeoutMs: 20_000,
      });
      assert.equal(`${run.stdout}${run.stderr}`, '', `line ${lines.indexOf(line) + 1}`);
      assert.equal(run.code, 0);
    }
    assert.deepEqual(await v4.query.a(`dual.${zone}`), ['127.0.0.1']);
    assert.deepEqual(await v4.query.aaaa(`dual.${zone}`), ['::1']);
    const rrsets = await v4.pdns.listRrsets(zone, { name: `dual.${zone}` });
    assert.deepEqual(rrsets.map((rrset) => `${rrset.type} ${rrset.records.join(' ')}`).sort(), [
      'A 127.0.0.1',
      'AAAA ::1',
    ]);
    // Run again: each line is a nochg for its own family, and the other family is kept.
    for (const line of lines) {
      const run = await runProgram('/bin/sh', ['-c', line.replace(/^\*\/5 \* \* \* \* /, '')], {
        env: { PATH: `${bin}:${process.env.PATH}` },
        timeoutMs: 20_000,
      });
      assert.equal(`${run.stdout}${run.stderr}`, '');
    }
    assert.deepEqual(await v4.query.aaaa(`dual.${zone}`), ['::1']);
    assert.deepEqual(await v4.query.a(`dual.${zone}`), ['127.0.0.1']);
  } finally {
    await v6.stop();
    await v4.stop();
  }
});
