import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns, uniqueZone } from '../support/mydns.ts';
import { runSwaks, type SmtpSink, startSmtpSink, startTestRelay, type TestRelay } from '../support/smtp.ts';
import { createWebClient } from '../support/web-client.ts';

/**
 * Several zones (MYDNS_ZONES) against the real Postgres and PowerDNS: the same
 * label in two zones is two hosts, each answered by DNS; registration takes a
 * zone; updates, the JSON API and the relay name hosts in full in either zone
 * (a bare label is the default zone); the reconciler and dormancy cover every
 * zone. Checked three ways where it applies: the reply, PowerDNS, a DNS answer.
 */

const zoneA = uniqueZone();
/** Inside the first zone, as `home.dyn.example.net` beside `dyn.example.net`: a host is still one label. */
const zoneB = `sub.${zoneA}`;
const PASSWORD_A = 'first-zone-secret-1';
const PASSWORD_B = 'second-zone-secret-2';
let mydns: TestMyDns;

const json = (body: unknown) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});
const register = (body: Record<string, unknown>) => mydns.request('/api/v1/hosts', json(body));

before(async () => {
  mydns = await startTestMyDns({ env: { MYDNS_ZONES: `${zoneA},${zoneB}` } });
});
after(async () => {
  await mydns?.stop();
});

describe('several zones', () => {
  test('every zone gets its SOA, NS and the relay names', async () => {
    for (const zone of [zoneA, zoneB]) {
      const soa = await mydns.pdns.listRrsets(zone, { name: zone, type: 'SOA' });
      assert.match(soa[0]?.records[0] ?? '', new RegExp(`^ns1\\.${zone.replace(/\./g, '\\.')}\\. `), zone);
      const ns = await mydns.pdns.listRrsets(zone, { name: zone, type: 'NS' });
      assert.deepEqual(ns[0]?.records, [`ns1.${zone}.`]);
      assert.deepEqual(await mydns.query.a(`mx.${zone}`), ['127.0.0.1']);
      assert.deepEqual(await mydns.query.a(`anyone.mx.${zone}`), ['127.0.0.1']);
    }
  });

  test('registration: the default zone, a chosen zone, a full name; the same label in each zone; unknown zones refused', async () => {
    const first = await register({ hostname: 'alice', password: PASSWORD_A });
    assert.equal(first.status, 201, first.body);
    assert.equal(JSON.parse(first.body).hostname, `alice.${zoneA}`);
    assert.equal(first.headers.get('location'), '/api/v1/hosts/alice');

    const second = await register({ hostname: 'alice', zone: zoneB, password: PASSWORD_B });
    assert.equal(second.status, 201, second.body);
    assert.equal(JSON.parse(second.body).hostname, `alice.${zoneB}`);
    assert.equal(JSON.parse(second.body).zone, zoneB);
    assert.equal(second.headers.get('location'), `/api/v1/hosts/alice.${zoneB}`);

    const byName = await register({ hostname: `Bob.${zoneB.toUpperCase()}`, password: PASSWORD_B });
    assert.equal(byName.status, 201, byName.body);
    assert.equal(JSON.parse(byName.body).hostname, `bob.${zoneB}`);

    const taken = await register({ hostname: 'alice', zone: zoneB, password: PASSWORD_B });
    assert.equal(taken.status, 409);
    assert.equal(JSON.parse(taken.body).error.code, 'hostname_taken');

    const unknown = await register({ hostname: 'carol', zone: 'elsewhere.example', password: PASSWORD_A });
    assert.equal(unknown.status, 400);
    assert.equal(JSON.parse(unknown.body).error.code, 'unknown_zone');
    const notAString = await register({ hostname: 'carol', zone: 7, password: PASSWORD_A });
    assert.equal(JSON.parse(notAString.body).error.code, 'unknown_zone');
    // `sub` in the first zone would sit on the second zone's own name.
    const onTheZone = await register({ hostname: 'sub', password: PASSWORD_A });
    assert.equal(onTheZone.status, 400);
    assert.equal(JSON.parse(onTheZone.body).error.code, 'hostname_reserved');
  });

  test('updates name either host in full; a bare label is the default zone; DNS answers both', async () => {
    const inA = await mydns.request('/nic/update?hostname=alice&myip=198.51.100.1', {
      auth: ['alice', PASSWORD_A],
    });
    assert.equal(inA.body, 'good 198.51.100.1');
    const inB = await mydns.request(`/nic/update?hostname=alice.${zoneB}&myip=198.51.100.2`, {
      auth: [`alice.${zoneB}`, PASSWORD_B],
    });
    assert.equal(inB.body, 'good 198.51.100.2');
    assert.deepEqual(await mydns.query.a(`alice.${zoneA}`), ['198.51.100.1']);
    assert.deepEqual(await mydns.query.a(`alice.${zoneB}`), ['198.51.100.2']);
    assert.deepEqual(await mydns.pdns.listRrsets(zoneB, { name: `alice.${zoneB}`, type: 'A' }), [
      { name: `alice.${zoneB}.`, type: 'A', ttl: 60, records: ['198.51.100.2'] },
    ]);

    // The second zone's credential does not cover the default zone's alice, nor the other way round.
    const crossed = await mydns.request('/nic/update?hostname=alice&myip=198.51.100.3', {
      auth: [`alice.${zoneB}`, PASSWORD_B],
    });
    assert.equal(crossed.body, 'nohost');
    const wrongZone = await mydns.request(`/nic/update?hostname=alice.${zoneB}&myip=198.51.100.3`, {
      auth: ['alice', PASSWORD_A],
    });
    assert.equal(wrongZone.body, 'nohost');
    // The default zone's password is not the second zone's.
    const wrongPassword = await mydns.request(`/nic/update?myip=198.51.100.3`, {
      auth: [`alice.${zoneB}`, PASSWORD_A],
    });
    assert.equal(wrongPassword.status, 401);
    // The simple URL, with the username in the query, in the second zone.
    const simple = await mydns.request(
      `/u.php?hostname=alice.${zoneB}&password=${PASSWORD_B}&myip=198.51.100.4`,
    );
    assert.equal(simple.body, 'good 198.51.100.4');
    assert.deepEqual(await mydns.query.a(`alice.${zoneA}`), ['198.51.100.1'], 'the namesake is untouched');
    assert.deepEqual(await mydns.query.a(`alice.${zoneB}`), ['198.51.100.4']);
  });

  test('the JSON API: {name} is the label (default zone) or the full name', async () => {
    const full = await mydns.request(`/api/v1/hosts/alice.${zoneB}`, {
      auth: [`alice.${zoneB}`, PASSWORD_B],
    });
    assert.equal(full.status, 200, full.body);
    assert.equal(JSON.parse(full.body).hostname, `alice.${zoneB}`);
    assert.equal(JSON.parse(full.body).ipv4, '198.51.100.4');
    const label = await mydns.request('/api/v1/hosts/alice', { auth: ['alice', PASSWORD_A] });
    assert.equal(JSON.parse(label.body).hostname, `alice.${zoneA}`);
    const other = await mydns.request('/api/v1/hosts/alice', { auth: [`alice.${zoneB}`, PASSWORD_B] });
    assert.equal(other.status, 403);
    const acme = await mydns.request(`/api/v1/hosts/alice.${zoneB}/acme-challenge`, {
      ...json({ value: 'second-zone-challenge' }),
      auth: [`alice.${zoneB}`, PASSWORD_B],
    });
    assert.equal(acme.status, 201, acme.body);
    assert.equal(JSON.parse(acme.body).name, `_acme-challenge.alice.${zoneB}`);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.alice.${zoneB}`), ['second-zone-challenge']);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.alice.${zoneA}`), []);
  });

  test('the web form offers the zones and registers in the chosen one', async () => {
    const web = createWebClient(mydns.url);
    const form = await web.get('/register');
    assert.match(form.body, /<select id="zone" name="zone"/);
    assert.match(form.body, new RegExp(`<option value="${zoneA}" selected>\\.${zoneA}</option>`));
    assert.match(form.body, new RegExp(`<option value="${zoneB}">\\.${zoneB}</option>`));
    const password = 'web-zone-secret-3';
    const wrong = await web.post('/register', {
      hostname: 'webby',
      zone: 'nope.example',
      password,
      confirm: password,
    });
    assert.equal(wrong.status, 400);
    assert.match(wrong.body, /Choose one of the zones this service offers/);
    const done = await web.post('/register', { hostname: 'webby', zone: zoneB, password, confirm: password });
    assert.equal(done.status, 303, done.body);
    const dashboard = await web.get('/dashboard');
    assert.match(dashboard.body, new RegExp(`webby\\.${zoneB.replace(/\./g, '\\.')}`));
    const available = await fetch(`${mydns.url}/api/v1/availability/webby?zone=${zoneB}`);
    assert.deepEqual(await available.json(), { available: false, message: `webby.${zoneB} is taken` });
    const free = await fetch(`${mydns.url}/api/v1/availability/webby`);
    assert.deepEqual(await free.json(), { available: true, message: `webby.${zoneA} is available` });
    // Signing in with the full name of a host in the second zone.
    const signIn = createWebClient(mydns.url);
    await signIn.get('/login');
    const login = await signIn.post('/login', { hostname: `webby.${zoneB}`, password });
    assert.equal(login.status, 303);
  });

  test('the reconciler repairs both zones', async () => {
    await mydns.pdns.patchZone(zoneB, [{ name: `alice.${zoneB}`, type: 'A', ttl: 60, records: [] }]);
    await mydns.pdns.patchZone(zoneA, [
      { name: `stray.${zoneA}`, type: 'A', ttl: 60, records: ['203.0.113.9'] },
    ]);
    const dry = await mydns.services.reconciler.run({ dryRun: true });
    const names = dry.differences.map((difference) => difference.name).sort();
    assert.deepEqual(names, [`alice.${zoneB}.`, `stray.${zoneA}.`]);
    const fixed = await mydns.services.reconciler.run({ dryRun: false });
    assert.ok(fixed.fixed);
    assert.deepEqual(await mydns.query.a(`alice.${zoneB}`), ['198.51.100.4']);
    assert.deepEqual(await mydns.query.a(`stray.${zoneA}`), []);
    assert.deepEqual((await mydns.services.reconciler.run({ dryRun: false })).differences, []);
  });

  test('dormancy covers every zone', async () => {
    await mydns
      .db('hosts')
      .where({ name: 'alice' })
      .update({ last_seen_at: mydns.db.raw("now() - interval '40 days'") });
    const report = await mydns.services.maintenance.runOnce();
    assert.deepEqual([...(report?.dormant ?? [])].sort(), [`alice.${zoneA}`, `alice.${zoneB}`].sort());
    await mydns.services.zoneWriters.flush();
    assert.deepEqual(await mydns.query.a(`alice.${zoneA}`), []);
    assert.deepEqual(await mydns.query.a(`alice.${zoneB}`), []);
    // One update brings one of them back, in its own zone only.
    const back = await mydns.request(`/nic/update?hostname=alice.${zoneB}&myip=198.51.100.4`, {
      auth: [`alice.${zoneB}`, PASSWORD_B],
    });
    assert.equal(back.body, 'good 198.51.100.4');
    assert.deepEqual(await mydns.query.a(`alice.${zoneB}`), ['198.51.100.4']);
    assert.deepEqual(await mydns.query.a(`alice.${zoneA}`), []);
  });
});

describe('the relay in several zones', () => {
  let relay: TestRelay;
  let homeA: SmtpSink;
  let homeB: SmtpSink;

  before(async () => {
    homeA = await startSmtpSink({ args: ['-v'] });
    homeB = await startSmtpSink({ args: ['-v'] });
    relay = await startTestRelay({ DATABASE_URL: mydns.databaseUrl, MYDNS_ZONES: `${zoneA},${zoneB}` });
  });
  after(async () => {
    await relay?.stopAll();
    await homeA?.stop();
    await homeB?.stop();
  });

  /** A host `post` in `zone`, at 127.0.0.1, forwarding its mail to `port`. */
  const mailHost = async (zone: string, password: string, port: number) => {
    const created = await register({ hostname: 'post', zone, password });
    assert.equal(created.status, 201, created.body);
    const name = `post.${zone}`;
    const address = await mydns.request(`/nic/update?hostname=${name}&myip=127.0.0.1`, {
      auth: [name, password],
    });
    assert.equal(address.body, 'good 127.0.0.1');
    const mail = await mydns.request(`/api/v1/hosts/${name}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ mail: { enabled: true, port, clientAddress: 'none', tls: 'none' } }),
      auth: [name, password],
    });
    assert.equal(mail.status, 200, mail.body);
  };

  test('a recipient in the second zone reaches the home server of that zone’s host', async () => {
    await mailHost(zoneA, PASSWORD_A, homeA.port);
    await mailHost(zoneB, PASSWORD_B, homeB.port);
    assert.deepEqual(await mydns.query.mx(`post.${zoneB}`), [`10 post.mx.${zoneB}`]);
    const send = (to: string) =>
      runSwaks([
        '--server',
        '127.0.0.1',
        '--port',
        String(relay.port),
        '--from',
        'sender@example.org',
        '--to',
        to,
      ]);
    const second = await send(`someone@post.${zoneB}`);
    assert.equal(second.code, 0, second.output);
    assert.match(homeB.output(), new RegExp(`RCPT TO:<someone@post\\.${zoneB.replace(/\./g, '\\.')}>`, 'i'));
    assert.doesNotMatch(homeA.output(), /RCPT TO:<someone@/i);
    const first = await send(`other@post.${zoneA}`);
    assert.equal(first.code, 0, first.output);
    assert.match(homeA.output(), new RegExp(`RCPT TO:<other@post\\.${zoneA.replace(/\./g, '\\.')}>`, 'i'));
    const nobody = await send(`x@nobody.${zoneB}`);
    assert.notEqual(nobody.code, 0);
    assert.match(nobody.output, /554 5\.7\.1/);
  });
});
