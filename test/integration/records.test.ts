import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { runProgram } from '../support/programs.ts';
import { waitFor } from '../support/wait.ts';
import { createWebClient, unescapeHtml } from '../support/web-client.ts';

/**
 * The wildcard and the owner's records (README "Records") against the real
 * Postgres and PowerDNS: every record type and the wildcard in real DNS
 * answers; a bad set refused with nothing changed; one PUT, one PATCH;
 * records withdrawn and restored with the host's address; the reconciler
 * treating them as the host's own; the ACME endpoint beside them.
 */

const PASSWORD = 'records-test-secret-1';
let mydns: TestMyDns;
let host: string;
const auth = (): [string, string] => ['alice', PASSWORD];

const put = (records: unknown, name = 'alice') =>
  mydns.request(`/api/v1/hosts/${name}/records`, {
    method: 'PUT',
    auth: [name, PASSWORD],
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records }),
  });
const patch = (body: unknown) =>
  mydns.request('/api/v1/hosts/alice', {
    method: 'PATCH',
    auth: auth(),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
const update = (query: string) => mydns.request(`/nic/update?hostname=alice&${query}`, { auth: auth() });

const FULL_SET = [
  { subname: '', type: 'TXT', content: 'v=spf1 -all' },
  { subname: '', type: 'MX', content: '10 mail.example.org' },
  { subname: '', type: 'CAA', content: '0 issue "letsencrypt.org"' },
  { subname: '_sip._udp', type: 'SRV', content: '10 5 5060 sip.example.org.' },
  { subname: 'www', type: 'CNAME', content: 'alice.example.org.' },
  { subname: 'vpn', type: 'A', content: '@' },
  { subname: 'fixed', type: 'A', content: '192.0.2.44', ttl: 300 },
  { subname: 'nas', type: 'AAAA', content: '::211:22ff:fe33:4455' },
  { subname: 'printer', type: 'AAAA', content: '2001:db8:99::5' },
  { subname: 'long', type: 'TXT', content: 'x'.repeat(600) },
];

before(async () => {
  mydns = await startTestMyDns();
  await mydns.createHost('alice', PASSWORD);
  host = `alice.${mydns.zone}`;
  const reply = await update('myip=198.51.100.10,2001:db8:0:1::9');
  assert.equal(reply.body, 'good 198.51.100.10,2001:db8:0:1::9');
});
after(async () => {
  await mydns?.stop();
});

describe('the wildcard', () => {
  test('*.<host> answers the host’s addresses and follows every update', async () => {
    assert.deepEqual(await mydns.query.a(`anything.${host}`), [], 'off: nothing below the host');
    const on = await patch({ wildcard: true });
    assert.equal(on.status, 200, on.body);
    assert.equal(JSON.parse(on.body).wildcard, true);
    assert.deepEqual(await mydns.query.a(`anything.${host}`), ['198.51.100.10']);
    assert.deepEqual(await mydns.query.aaaa(`deep.er.${host}`), ['2001:db8:0:1::9']);
    assert.equal((await update('myip=198.51.100.11')).body, 'good 198.51.100.11');
    assert.deepEqual(await mydns.query.a(`anything.${host}`), ['198.51.100.11']);
    const bad = await patch({ wildcard: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error.code, 'invalid_wildcard');
  });
});

describe('owner records', () => {
  test('PUT sets every type; GET lists them; DNS answers each', async () => {
    const reply = await put(FULL_SET);
    assert.equal(reply.status, 200, reply.body);
    const listed = await mydns.request('/api/v1/hosts/alice/records', { auth: auth() });
    const records = JSON.parse(listed.body).records as {
      subname: string;
      type: string;
      content: string;
      ttl: number;
    }[];
    assert.equal(records.length, FULL_SET.length);
    assert.deepEqual(records[1], { subname: '', type: 'MX', content: '10 mail.example.org.', ttl: 60 });
    assert.deepEqual(records[6], { subname: 'fixed', type: 'A', content: '192.0.2.44', ttl: 300 });

    const q = mydns.query;
    assert.deepEqual(await q.txt(host), ['v=spf1 -all']);
    assert.deepEqual(await q.mx(host), ['10 mail.example.org']);
    assert.deepEqual(await q.caa(host), ['0 issue letsencrypt.org']);
    assert.deepEqual(await q.srv(`_sip._udp.${host}`), ['10 5 5060 sip.example.org']);
    assert.deepEqual(await q.cname(`www.${host}`), ['alice.example.org']);
    assert.deepEqual(await q.a(`vpn.${host}`), ['198.51.100.11'], '@ is the host’s IPv4');
    assert.deepEqual(await q.a(`fixed.${host}`), ['192.0.2.44']);
    assert.deepEqual(
      await q.aaaa(`nas.${host}`),
      ['2001:db8:0:1:211:22ff:fe33:4455'],
      'identifier on the /64',
    );
    assert.deepEqual(await q.aaaa(`printer.${host}`), ['2001:db8:99::5']);
    assert.deepEqual(await q.txt(`long.${host}`), ['x'.repeat(600)], 'split for DNS, joined by the resolver');
    // The wildcard still answers names the owner did not set.
    assert.deepEqual(await q.a(`other.${host}`), ['198.51.100.11']);
    // PowerDNS holds the TTLs asked for.
    const fixed = await mydns.pdns.listRrsets(mydns.zone, { name: `fixed.${host}`, type: 'A' });
    assert.equal(fixed[0]?.ttl, 300);
  });

  test('A @ and identifier AAAA records follow updates', async () => {
    assert.equal(
      (await update('myip=198.51.100.12,2001:db8:0:2::9')).body,
      'good 198.51.100.12,2001:db8:0:2::9',
    );
    assert.deepEqual(await mydns.query.a(`vpn.${host}`), ['198.51.100.12']);
    assert.deepEqual(await mydns.query.aaaa(`nas.${host}`), ['2001:db8:0:2:211:22ff:fe33:4455']);
    assert.deepEqual(await mydns.query.a(`fixed.${host}`), ['192.0.2.44'], 'a fixed address stays');
  });

  test('a bad set is refused with a 400 naming the record, and nothing changes', async () => {
    const before = (await mydns.request('/api/v1/hosts/alice/records', { auth: auth() })).body;
    const cases: [unknown, RegExp][] = [
      [
        [...FULL_SET, { subname: 'www', type: 'TXT', content: 'beside the CNAME' }],
        /^records\[10\] \(TXT www\): www has a CNAME/,
      ],
      [
        [{ subname: '_acme-challenge', type: 'TXT', content: 'mine' }],
        /^records\[0\] \(TXT _acme-challenge\): .*ACME/,
      ],
      [[{ subname: 'a', type: 'A', content: 'not-an-address' }], /^records\[0\] \(A a\)/],
      [Array.from({ length: 51 }, (_, i) => ({ subname: `n${i}`, type: 'TXT', content: 'x' })), /at most 50/],
      ['not a list', /must be a list/],
    ];
    for (const [records, message] of cases) {
      const reply = await put(records);
      assert.equal(reply.status, 400, reply.body);
      const error = JSON.parse(reply.body).error;
      assert.equal(error.code, 'invalid_records');
      assert.match(error.message, message);
    }
    assert.equal((await mydns.request('/api/v1/hosts/alice/records', { auth: auth() })).body, before);
    assert.deepEqual(await mydns.query.txt(host), ['v=spf1 -all']);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${host}`), []);
  });

  test('a PUT is one PATCH; names it drops leave DNS; a name may change type', async () => {
    const patches = mydns.services.metrics.patchRrsets;
    const before = (await patches.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    const reply = await put([
      { subname: 'www', type: 'A', content: '192.0.2.80' },
      { subname: 'vpn', type: 'CNAME', content: 'elsewhere.example.org.' },
      { subname: '', type: 'TXT', content: 'second' },
    ]);
    assert.equal(reply.status, 200, reply.body);
    const afterCount = (await patches.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
    assert.equal(afterCount - before, 1, 'one PATCH for the whole set');
    assert.deepEqual(await mydns.query.a(`www.${host}`), ['192.0.2.80'], 'CNAME → A');
    assert.deepEqual(await mydns.query.cname(`vpn.${host}`), ['elsewhere.example.org'], 'A → CNAME');
    assert.deepEqual(await mydns.query.txt(host), ['second']);
    assert.deepEqual(await mydns.query.mx(host), []);
    assert.deepEqual(await mydns.query.caa(host), []);
    assert.deepEqual(await mydns.query.srv(`_sip._udp.${host}`), []);
    assert.deepEqual(
      await mydns.query.aaaa(`printer.${host}`),
      ['2001:db8:0:2::9'],
      'dropped: the wildcard answers',
    );
    const left = await mydns.pdns.listRrsets(mydns.zone);
    assert.deepEqual(
      left
        .filter((r) => r.name.endsWith(`.${host}.`))
        .map((r) => `${r.type} ${r.name}`)
        .sort(),
      [`A *.${host}.`, `A www.${host}.`, `AAAA *.${host}.`, `CNAME vpn.${host}.`].sort(),
    );
  });

  test('the ACME endpoint works beside owner TXT records at other names', async () => {
    const added = await mydns.request('/api/v1/hosts/alice/acme-challenge', {
      method: 'POST',
      auth: auth(),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'acme-token-value' }),
    });
    assert.equal(added.status, 201, added.body);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${host}`), ['acme-token-value']);
    assert.deepEqual(await mydns.query.txt(host), ['second'], 'the owner’s TXT stays');
    const replaced = await put([
      { subname: '', type: 'TXT', content: 'third' },
      { subname: '_dmarc', type: 'TXT', content: 'v=DMARC1; p=none' },
    ]);
    assert.equal(replaced.status, 200, replaced.body);
    assert.deepEqual(
      await mydns.query.txt(`_acme-challenge.${host}`),
      ['acme-token-value'],
      'a PUT leaves ACME alone',
    );
    assert.deepEqual(await mydns.query.txt(`_dmarc.${host}`), ['v=DMARC1; p=none']);
    const removed = await mydns.request('/api/v1/hosts/alice/acme-challenge/acme-token-value', {
      method: 'DELETE',
      auth: auth(),
    });
    assert.equal(removed.status, 204);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${host}`), []);
    assert.deepEqual(await mydns.query.txt(`_dmarc.${host}`), ['v=DMARC1; p=none']);
  });

  test('withdrawn with the address when dormant or disabled, restored with it', async () => {
    await put(FULL_SET);
    const present = async () => ({
      txt: await mydns.query.txt(host),
      cname: await mydns.query.cname(`www.${host}`),
      wildcard: await mydns.query.a(`other.${host}`),
      nas: await mydns.query.aaaa(`nas.${host}`),
    });
    const live = await present();
    assert.deepEqual(live.txt, ['v=spf1 -all']);
    const gone = { txt: [], cname: [], wildcard: [], nas: [] };

    await mydns.services.hosts.setStatus('alice', 'disabled');
    assert.deepEqual(await present(), gone, 'disabled');
    await mydns.services.hosts.setStatus('alice', 'active');
    assert.deepEqual(await present(), live, 'enabled again');

    await mydns
      .db('hosts')
      .where({ name: 'alice' })
      .update({ last_seen_at: new Date(Date.now() - 90 * 86_400_000) });
    const expired = await mydns.services.maintenance.expireInactive({ dryRun: false });
    assert.deepEqual(expired, [host]);
    await mydns.services.zoneWriters.flush();
    assert.deepEqual(await present(), gone, 'dormant');
    assert.equal(
      (await update('myip=198.51.100.12,2001:db8:0:2::9')).body,
      'good 198.51.100.12,2001:db8:0:2::9',
    );
    assert.deepEqual(await present(), live, 'the next update restores them');
  });

  test('the reconciler treats them as the host’s own: restores what is missing, removes strays', async () => {
    // A quiet zone first: a push still on its way (the previous test's, on a loaded machine)
    // would put the CNAME back before the pass reads the zone, and the pass would rightly miss it.
    await mydns.services.zoneWriters.flush();
    await mydns.pdns.patchZone(mydns.zone, [
      { name: `www.${host}`, type: 'CNAME', ttl: 60, records: [] },
      { name: `stray.${host}`, type: 'TXT', ttl: 60, records: ['left behind'] },
    ]);
    assert.deepEqual(await mydns.query.cname(`www.${host}`), []);
    const report = await mydns.services.reconciler.run({ dryRun: false });
    assert.deepEqual(report.differences.map((d) => `${d.kind} ${d.type} ${d.name}`).sort(), [
      `extra TXT stray.${host}.`,
      `missing CNAME www.${host}.`,
    ]);
    assert.deepEqual(await mydns.query.cname(`www.${host}`), ['alice.example.org']);
    assert.deepEqual(await mydns.query.txt(`stray.${host}`), []);
    assert.deepEqual((await mydns.services.reconciler.run({ dryRun: false })).differences, [], 'idempotent');
  });

  test('a deleted host takes its records and its wildcard out of DNS', async () => {
    await mydns.createHost('bob', PASSWORD);
    const bob = `bob.${mydns.zone}`;
    const set = await put([{ subname: 'www', type: 'TXT', content: 'bob’s'.replace('’', "'") }], 'bob');
    assert.equal(set.status, 200, set.body);
    assert.deepEqual(await mydns.query.txt(`www.${bob}`), ["bob's"]);
    const removed = await mydns.request('/api/v1/hosts/bob', { method: 'DELETE', auth: ['bob', PASSWORD] });
    assert.equal(removed.status, 204);
    assert.deepEqual(await mydns.query.txt(`www.${bob}`), []);
    const left = await mydns.pdns.listRrsets(mydns.zone);
    assert.deepEqual(
      left.filter((r) => r.name.endsWith(`${bob}.`)),
      [],
    );
  });
});

describe('the dashboard’s Records page (no JavaScript)', () => {
  test('lists the set, saves a new one with the wildcard, and shows a refusal beside the form', async () => {
    await mydns.createHost('carol', PASSWORD);
    const carol = `carol.${mydns.zone}`;
    const client = createWebClient(mydns.url);
    await client.get('/login');
    const signedIn = await client.post('/login', { hostname: carol, password: PASSWORD });
    assert.equal(signedIn.status, 303);
    const page = await client.get('/dashboard/records');
    assert.equal(page.status, 200);
    assert.match(page.body, /<textarea id="records-set" name="records"/);
    const saved = await client.post('/dashboard/records', {
      records: '@ TXT 60 hello from the form\nwww CNAME 300 carol.example.org.',
      wildcard: 'on',
    });
    assert.equal(saved.status, 303, saved.body);
    assert.equal(saved.headers.get('location'), '/dashboard/records?notice=records-saved');
    assert.deepEqual(await mydns.query.txt(carol), ['hello from the form']);
    assert.deepEqual(await mydns.query.cname(`www.${carol}`), ['carol.example.org']);
    const shown = await client.get('/dashboard/records');
    assert.match(unescapeHtml(shown.body), /www CNAME 300 carol\.example\.org\./);
    assert.match(shown.body, /name="wildcard" id="records-wildcard" checked/);
    const refused = await client.post('/dashboard/records', {
      records: 'www A 60 not-an-address',
      wildcard: '',
    });
    assert.equal(refused.status, 400);
    assert.match(unescapeHtml(refused.body), /records\[0\] \(A www\)/);
    assert.deepEqual(await mydns.query.cname(`www.${carol}`), ['carol.example.org'], 'nothing changed');
  });
});

describe('racing PUTs', () => {
  /** Set `i`: even sets hold a CNAME at `sw`, odd ones a TXT there; each has a name of its own. */
  const raceSet = (i: number) =>
    i % 2 === 0
      ? [
          { subname: '', type: 'TXT', content: `set-${i}` },
          { subname: 'sw', type: 'CNAME', content: `t${i}.example.org.` },
          { subname: `n${i}`, type: 'A', content: `192.0.2.${i + 1}` },
        ]
      : [
          { subname: '', type: 'TXT', content: `set-${i}` },
          { subname: 'sw', type: 'TXT', content: `sw-${i}` },
          { subname: `n${i}`, type: 'TXT', content: `n-${i}` },
        ];
  /** What PowerDNS should hold under the host for set `i` (the host has no address here). */
  const expectedRrsets = (racer: string, i: number) =>
    raceSet(i)
      .map((record) => {
        const name = record.subname === '' ? `${racer}.` : `${record.subname}.${racer}.`;
        const content = record.type === 'TXT' ? `"${record.content}"` : record.content;
        return `${name} ${record.type} ${content}`;
      })
      .sort();

  test('10 parallel PUTs (CNAME and TXT swapping at one name) end as exactly the last committed set', async () => {
    await mydns.createHost('racer', PASSWORD);
    const racer = `racer.${mydns.zone}`;
    for (let round = 0; round < 3; round++) {
      const replies = await Promise.all(Array.from({ length: 10 }, (_, i) => put(raceSet(i), 'racer')));
      for (const reply of replies) assert.equal(reply.status, 200, `round ${round}: ${reply.body}`);
      const stored = JSON.parse(
        (await mydns.request('/api/v1/hosts/racer/records', { auth: ['racer', PASSWORD] })).body,
      ) as { records: { subname: string; content: string }[] };
      const winner = Number(
        /^set-(\d)$/.exec(stored.records.find((r) => r.subname === '')?.content ?? '')?.[1],
      );
      assert.ok(Number.isInteger(winner), JSON.stringify(stored));
      const held = async () =>
        (await mydns.pdns.listRrsets(mydns.zone))
          .filter((rrset) => rrset.name.endsWith(`${racer}.`) && rrset.records.length > 0)
          .flatMap((rrset) => rrset.records.map((content) => `${rrset.name} ${rrset.type} ${content}`))
          .sort();
      // Every reply came after its own change was pushed (or said it was pending): wait for the rest, if any.
      let last: string[] = [];
      await waitFor(
        async () => {
          last = await held();
          return JSON.stringify(last) === JSON.stringify(expectedRrsets(racer, winner));
        },
        {
          message: () => `PowerDNS to hold set ${winner} alone, round ${round}: ${last.join('; ')}`,
          timeoutMs: 10_000,
        },
      );
      assert.deepEqual(await mydns.query.txt(racer), [`set-${winner}`]);
      if (winner % 2 === 0) {
        assert.deepEqual(await mydns.query.cname(`sw.${racer}`), [`t${winner}.example.org`]);
      } else {
        assert.deepEqual(await mydns.query.cname(`sw.${racer}`), []);
        assert.deepEqual(await mydns.query.txt(`sw.${racer}`), [`sw-${winner}`]);
      }
      for (let i = 0; i < 10; i++) {
        const at = `n${i}.${racer}`;
        const answers = [...(await mydns.query.a(at)), ...(await mydns.query.txt(at))];
        assert.deepEqual(answers, i !== winner ? [] : i % 2 === 0 ? [`192.0.2.${i + 1}`] : [`n-${i}`], at);
      }
    }
  });
});

describe('host show in the CLI', () => {
  test('lists the host’s owner records and its wildcard', async () => {
    await mydns.createHost('shown', PASSWORD);
    const set = [
      { subname: '', type: 'TXT', content: 'shown by the cli' },
      { subname: 'www', type: 'CNAME', content: 'shown.example.org.', ttl: 300 },
    ];
    assert.equal((await put(set, 'shown')).status, 200);
    const on = await mydns.request('/api/v1/hosts/shown', {
      method: 'PATCH',
      auth: ['shown', PASSWORD],
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ wildcard: true }),
    });
    assert.equal(on.status, 200, on.body);
    const root = resolve(import.meta.dirname, '../..');
    const shown = await runProgram(
      join(root, 'node_modules/.bin/tsx'),
      [join(root, 'apps/api/src/cli.ts'), 'host', 'show', 'shown'],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          DATABASE_URL: mydns.databaseUrl,
          MYDNS_ZONE: mydns.zone,
        },
        timeoutMs: 90_000,
      },
    );
    assert.equal(shown.code, 0, shown.output);
    const host = JSON.parse(shown.stdout) as { hostname: string; wildcard: boolean; records: unknown };
    assert.equal(host.hostname, `shown.${mydns.zone}`);
    assert.equal(host.wildcard, true);
    assert.deepEqual(host.records, [
      { subname: '', type: 'TXT', content: 'shown by the cli', ttl: 60 },
      { subname: 'www', type: 'CNAME', content: 'shown.example.org.', ttl: 300 },
    ]);
  });
});
