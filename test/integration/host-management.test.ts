import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * Everything an owner does besides updating: tokens, ACME values,
 * history, password and mail settings, deletion; and the lifecycle an
 * operator runs: dormancy, disable/enable. Each checked in the reply, in
 * Postgres where it matters, and in real DNS answers.
 */

let mydns: TestMyDns;
const PASSWORD = 'owner-password';
const json = { 'content-type': 'application/json' };

before(async () => {
  mydns = await startTestMyDns({ env: { MYDNS_HOST_UPDATE_LIMIT: '1000/10m' } });
});
after(async () => {
  await mydns?.stop();
});

const fqdn = (label: string) => `${label}.${mydns.zone}`;

async function createToken(host: string, label = 'router'): Promise<{ id: number; token: string }> {
  const reply = await mydns.request(`/api/v1/hosts/${host}/tokens`, {
    method: 'POST',
    auth: [host, PASSWORD],
    headers: json,
    body: JSON.stringify({ label }),
  });
  assert.equal(reply.status, 201, reply.body);
  return JSON.parse(reply.body);
}

describe('update tokens', () => {
  test('a token updates its host through /nic/update and /u.php, alone or with the hostname', async () => {
    await mydns.createHost('tok', PASSWORD);
    const { id, token } = await createToken('tok');
    assert.match(token, /^mydns_[A-Za-z0-9_-]{43}$/);
    assert.ok(id > 0);

    assert.equal(
      (await mydns.request('/nic/update?hostname=tok&myip=198.51.100.1', { auth: ['tok', token] })).body,
      'good 198.51.100.1',
    );
    assert.equal(
      (await mydns.request(`/u.php?hostname=${fqdn('tok')}&token=${token}&myip=198.51.100.2`)).body,
      'good 198.51.100.2',
    );
    // The token alone names its host.
    assert.equal((await mydns.request(`/u.php?token=${token}&myip=198.51.100.3`)).body, 'good 198.51.100.3');
    assert.equal((await mydns.request(`/u.php?password=${token}`)).body, 'good 127.0.0.1');
    assert.deepEqual(await mydns.query.a(fqdn('tok')), ['127.0.0.1']);

    const listed = JSON.parse(
      (await mydns.request('/api/v1/hosts/tok/tokens', { auth: ['tok', PASSWORD] })).body,
    );
    assert.equal(listed.tokens.length, 1);
    assert.equal(listed.tokens[0].label, 'router');
    assert.ok(Date.parse(listed.tokens[0].lastUsedAt) > 0);
    assert.ok(!JSON.stringify(listed).includes(token), 'the secret is never listed');
    const stored = await mydns.db('update_tokens').where({ id }).first('token_hash');
    assert.equal((stored.token_hash as Buffer).length, 32, 'stored as SHA-256');
  });

  test('a token cannot manage its host, nor update another host', async () => {
    await mydns.createHost('limited', PASSWORD);
    await mydns.createHost('neighbour', PASSWORD);
    const { token } = await createToken('limited');
    const auth: [string, string] = ['limited', token];
    assert.equal((await mydns.request('/api/v1/hosts/limited', { auth })).status, 403);
    assert.equal((await mydns.request('/api/v1/hosts/limited/history', { auth })).status, 403);
    const asToken = await mydns.request('/api/v1/hosts/limited/tokens', {
      method: 'POST',
      auth,
      headers: json,
      body: JSON.stringify({ label: 'more' }),
    });
    assert.equal(asToken.status, 403);
    assert.equal(JSON.parse(asToken.body).error.code, 'token_not_allowed');
    const patch = await mydns.request('/api/v1/hosts/limited', {
      method: 'PATCH',
      auth,
      headers: json,
      body: JSON.stringify({ password: 'taken-over-now' }),
    });
    assert.equal(patch.status, 403);
    assert.equal((await mydns.request('/api/v1/hosts/limited', { method: 'DELETE', auth })).status, 403);
    // Another host: the token is not its credential.
    assert.equal(
      (
        await mydns.request('/nic/update?hostname=neighbour&myip=198.51.100.9', {
          auth: ['neighbour', token],
        })
      ).status,
      401,
    );
    assert.equal(
      (await mydns.request('/nic/update?hostname=neighbour&myip=198.51.100.9', { auth })).body,
      'nohost',
    );
    assert.deepEqual(await mydns.query.a(fqdn('neighbour')), []);
  });

  test('a revoked token stops working at once, even though it was cached', async () => {
    await mydns.createHost('revoke', PASSWORD);
    const { id, token } = await createToken('revoke');
    const auth: [string, string] = ['revoke', token];
    assert.equal(
      (await mydns.request('/nic/update?hostname=revoke&myip=198.51.100.4', { auth })).body,
      'good 198.51.100.4',
    );
    assert.equal(
      (await mydns.request('/nic/update?hostname=revoke&myip=198.51.100.4', { auth })).body,
      'nochg 198.51.100.4',
    );
    const revoked = await mydns.request(`/api/v1/hosts/revoke/tokens/${id}`, {
      method: 'DELETE',
      auth: ['revoke', PASSWORD],
    });
    assert.equal(revoked.status, 204);
    const after = await mydns.request('/nic/update?hostname=revoke&myip=198.51.100.5', { auth });
    assert.equal(after.status, 401);
    assert.equal(after.body, 'badauth');
    assert.deepEqual(await mydns.query.a(fqdn('revoke')), ['198.51.100.4']);
    assert.equal(
      (
        await mydns.request(`/api/v1/hosts/revoke/tokens/${id}`, {
          method: 'DELETE',
          auth: ['revoke', PASSWORD],
        })
      ).status,
      404,
    );
  });
});

describe('ACME DNS-01', () => {
  test('values coexist at _acme-challenge, removing one keeps the others, the host still resolves', async () => {
    await mydns.createHost('acme', PASSWORD);
    await mydns.request('/nic/update?hostname=acme&myip=198.51.100.20', { auth: ['acme', PASSWORD] });
    const { token } = await createToken('acme', 'certbot');
    const add = (value: string, auth: [string, string]) =>
      mydns.request('/api/v1/hosts/acme/acme-challenge', {
        method: 'POST',
        auth,
        headers: json,
        body: JSON.stringify({ value }),
      });
    const wildcard = 'wildcard-value-0123456789abcdefghijklmnopq';
    const apex = 'apex-value-0123456789abcdefghijklmnopqrstu';
    const first = await add(wildcard, ['acme', token]);
    assert.equal(first.status, 201, first.body);
    assert.equal(JSON.parse(first.body).name, `_acme-challenge.${fqdn('acme')}`);
    assert.equal((await add(apex, ['acme', PASSWORD])).status, 201);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${fqdn('acme')}`), [apex, wildcard].sort());
    // With rectify off, a TXT below the host must not hide the host's own address.
    assert.deepEqual(await mydns.query.a(fqdn('acme')), ['198.51.100.20']);

    const removed = await mydns.request(`/api/v1/hosts/acme/acme-challenge/${wildcard}`, {
      method: 'DELETE',
      auth: ['acme', token],
    });
    assert.equal(removed.status, 204);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${fqdn('acme')}`), [apex]);
    assert.equal(
      (
        await mydns.request(`/api/v1/hosts/acme/acme-challenge/${wildcard}`, {
          method: 'DELETE',
          auth: ['acme', token],
        })
      ).status,
      404,
    );
    const bad = await add('has "quotes"', ['acme', token]);
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).error.code, 'invalid_acme_value');
    assert.deepEqual(await mydns.query.a(fqdn('acme')), ['198.51.100.20']);
  });

  test('values expire after an hour (clock moved by injection)', async () => {
    await mydns.createHost('expiring', PASSWORD);
    const reply = await mydns.request('/api/v1/hosts/expiring/acme-challenge', {
      method: 'POST',
      auth: ['expiring', PASSWORD],
      headers: json,
      body: JSON.stringify({ value: 'short-lived' }),
    });
    assert.equal(reply.status, 201);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${fqdn('expiring')}`), ['short-lived']);
    await mydns.services.maintenance.runOnce(new Date(Date.now() + 59 * 60_000));
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${fqdn('expiring')}`), ['short-lived']);
    const report = await mydns.services.maintenance.runOnce(new Date(Date.now() + 61 * 60_000));
    assert.ok(report?.acmeExpired.includes(fqdn('expiring')));
    await mydns.services.zoneWriters.flush();
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${fqdn('expiring')}`), []);
  });
});

describe('history', () => {
  test('every authenticated attempt is recorded with source, agent, result and old → new', async () => {
    await mydns.createHost('hist', PASSWORD);
    const auth: [string, string] = ['hist', PASSWORD];
    const ua = { 'user-agent': 'ddclient/3.10.0' };
    await mydns.request('/nic/update?hostname=hist&myip=198.51.100.30', { auth, headers: ua });
    await mydns.request('/nic/update?hostname=hist&myip=198.51.100.30', { auth, headers: ua });
    await mydns.request('/nic/update?hostname=hist&myip=198.51.100.31,2001:db8::31', { auth, headers: ua });
    await mydns.request('/nic/update?hostname=hist&myip=nonsense', { auth, headers: ua });
    await mydns.request('/nic/update?hostname=hist&myip=198.51.100.32', { auth: ['hist', 'wrong-password'] });
    await mydns.services.history.flush();
    const reply = await mydns.request('/api/v1/hosts/hist/history', { auth });
    assert.equal(reply.status, 200);
    const { history } = JSON.parse(reply.body) as {
      history: { result: string; old: unknown; new: unknown; userAgent: string; sourceAddress: string }[];
    };
    assert.deepEqual(
      history.map((h) => [h.result, h.old, h.new]),
      [
        [
          'dnserr',
          { ipv4: '198.51.100.31', ipv6: '2001:db8::31' },
          { ipv4: '198.51.100.31', ipv6: '2001:db8::31' },
        ],
        ['good', { ipv4: '198.51.100.30', ipv6: null }, { ipv4: '198.51.100.31', ipv6: '2001:db8::31' }],
        ['nochg', { ipv4: '198.51.100.30', ipv6: null }, { ipv4: '198.51.100.30', ipv6: null }],
        ['good', { ipv4: null, ipv6: null }, { ipv4: '198.51.100.30', ipv6: null }],
      ],
      'newest first; the failed login is not an attempt of this host',
    );
    assert.equal(history[0]?.userAgent, 'ddclient/3.10.0');
    assert.equal(history[0]?.sourceAddress, '127.0.0.1');
  });

  test('repeated identical nochg attempts are counted on one entry', async () => {
    await mydns.createHost('repeats', PASSWORD);
    const auth: [string, string] = ['repeats', PASSWORD];
    const ua = { 'user-agent': 'cron' };
    const history = async () => {
      await mydns.services.history.flush();
      const reply = await mydns.request('/api/v1/hosts/repeats/history', { auth });
      return (
        JSON.parse(reply.body) as { history: { result: string; count: number; lastAt: string | null }[] }
      ).history;
    };
    const update = (ip: string, headers = ua) =>
      mydns.request(`/nic/update?hostname=repeats&myip=${ip}`, { auth, headers });
    await update('198.51.100.80');
    for (let i = 0; i < 3; i++) await update('198.51.100.80');
    assert.deepEqual(
      (await history()).map((h) => [h.result, h.count]),
      [
        ['nochg', 3],
        ['good', 1],
      ],
    );
    // Repeats in a later batch are counted on the row already in Postgres.
    for (let i = 0; i < 2; i++) await update('198.51.100.80');
    const later = await history();
    assert.deepEqual(
      later.map((h) => [h.result, h.count]),
      [
        ['nochg', 5],
        ['good', 1],
      ],
    );
    assert.ok(later[0]?.lastAt && Date.parse(later[0].lastAt) > 0);
    // Another client is another entry; so is anything after a change.
    await update('198.51.100.80', { 'user-agent': 'router' });
    await update('198.51.100.81');
    await update('198.51.100.81');
    assert.deepEqual(
      (await history()).map((h) => [h.result, h.count]),
      [
        ['nochg', 1],
        ['good', 1],
        ['nochg', 1],
        ['nochg', 5],
        ['good', 1],
      ],
    );
  });

  test('history is cut to its size limit', async () => {
    await mydns.createHost('chatty', PASSWORD);
    for (let i = 0; i < 5; i++)
      await mydns.request(`/nic/update?hostname=chatty&myip=198.51.100.${i + 1}`, {
        auth: ['chatty', PASSWORD],
      });
    await mydns.services.history.flush();
    const { rows } = await mydns.db.raw(
      "select count(*)::int as n from update_history h join hosts on hosts.id = h.host_id where hosts.name = 'chatty'",
    );
    assert.equal(rows[0].n, 5);
    const { createHistoryRepository } = await import('@mydns/db');
    await createHistoryRepository(mydns.db).prune({ maxPerHost: 2, before: new Date(0) });
    const left = await mydns.db.raw(
      "select count(*)::int as n from update_history h join hosts on hosts.id = h.host_id where hosts.name = 'chatty'",
    );
    assert.equal(left.rows[0].n, 2);
  });
});

describe('password, mail settings and deletion', () => {
  test('a new password replaces the old one at once', async () => {
    await mydns.createHost('pwchange', PASSWORD);
    assert.equal(
      (await mydns.request('/nic/update?hostname=pwchange', { auth: ['pwchange', PASSWORD] })).body,
      'good 127.0.0.1',
    );
    const changed = await mydns.request('/api/v1/hosts/pwchange', {
      method: 'PATCH',
      auth: ['pwchange', PASSWORD],
      headers: json,
      body: JSON.stringify({ password: 'a-brand-new-secret' }),
    });
    assert.equal(changed.status, 200, changed.body);
    assert.equal(
      (await mydns.request('/nic/update?hostname=pwchange', { auth: ['pwchange', PASSWORD] })).status,
      401,
    );
    assert.equal(
      (await mydns.request('/nic/update?hostname=pwchange', { auth: ['pwchange', 'a-brand-new-secret'] }))
        .body,
      'nochg 127.0.0.1',
    );
    const short = await mydns.request('/api/v1/hosts/pwchange', {
      method: 'PATCH',
      auth: ['pwchange', 'a-brand-new-secret'],
      headers: json,
      body: JSON.stringify({ password: 'short' }),
    });
    assert.equal(short.status, 400);
  });

  test('mail forwarding publishes an MX towards the relay, and takes it back', async () => {
    await mydns.createHost('mailer', PASSWORD);
    await mydns.request('/nic/update?hostname=mailer&myip=198.51.100.40', { auth: ['mailer', PASSWORD] });
    const patch = (mail: unknown) =>
      mydns.request('/api/v1/hosts/mailer', {
        method: 'PATCH',
        auth: ['mailer', PASSWORD],
        headers: json,
        body: JSON.stringify({ mail }),
      });
    const denied = await patch({ enabled: true, port: 22 });
    assert.equal(denied.status, 400);
    assert.equal(JSON.parse(denied.body).error.code, 'denied_mail_port');
    assert.equal(
      JSON.parse((await patch({ enabled: true, port: 5432 })).body).error.code,
      'denied_mail_port',
    );
    assert.equal(JSON.parse((await patch({ enabled: true })).body).error.code, 'mail_port_required');
    assert.equal(
      JSON.parse((await patch({ enabled: true, port: 2526, tls: 'fingerprint' })).body).error.code,
      'mail_fingerprint_required',
    );
    assert.deepEqual(await mydns.records('mailer', 'A'), ['198.51.100.40']);

    const on = await patch({ enabled: true, port: 2526, clientAddress: 'proxy-v2' });
    assert.equal(on.status, 200, on.body);
    assert.deepEqual(JSON.parse(on.body).mail, {
      enabled: true,
      port: 2526,
      clientAddress: 'proxy-v2',
      tls: 'opportunistic',
      fingerprint: null,
    });
    const mx = await mydns.pdns.listRrsets(mydns.zone, { name: fqdn('mailer'), type: 'MX' });
    assert.deepEqual(
      mx.flatMap((r) => (r.type === 'MX' ? r.records : [])),
      [`10 mailer.mx.${mydns.zone}.`],
    );
    const relay = await mydns.pdns.listRrsets(mydns.zone, { name: `x.mx.${mydns.zone}` });
    assert.ok(relay.length === 0 || relay.every((r) => r.name !== `x.mx.${mydns.zone}.`));
    assert.deepEqual(
      await mydns.query.a(`anything.mx.${mydns.zone}`),
      ['127.0.0.1'],
      'the wildcard names the relay',
    );

    assert.equal((await patch({ enabled: false })).status, 200);
    const gone = await mydns.pdns.listRrsets(mydns.zone, { name: fqdn('mailer'), type: 'MX' });
    assert.deepEqual(
      gone.filter((r) => r.type === 'MX'),
      [],
    );
  });

  test('deleting a host removes its records; the name is free again once released', async () => {
    await mydns.createHost('leaving', PASSWORD);
    await mydns.request('/nic/update?hostname=leaving&myip=198.51.100.50,2001:db8::50', {
      auth: ['leaving', PASSWORD],
    });
    await mydns.request('/api/v1/hosts/leaving/acme-challenge', {
      method: 'POST',
      auth: ['leaving', PASSWORD],
      headers: json,
      body: JSON.stringify({ value: 'left-behind' }),
    });
    assert.deepEqual(await mydns.query.a(fqdn('leaving')), ['198.51.100.50']);
    const deleted = await mydns.request('/api/v1/hosts/leaving', {
      method: 'DELETE',
      auth: ['leaving', PASSWORD],
    });
    assert.equal(deleted.status, 204);
    assert.deepEqual(await mydns.query.a(fqdn('leaving')), []);
    assert.deepEqual(await mydns.query.aaaa(fqdn('leaving')), []);
    assert.deepEqual(await mydns.query.txt(`_acme-challenge.${fqdn('leaving')}`), []);
    assert.equal(
      (await mydns.request('/nic/update?hostname=leaving', { auth: ['leaving', PASSWORD] })).status,
      401,
    );
    // Quarantined (MYDNS_NAME_QUARANTINE_DAYS) unless the operator releases it.
    await assert.rejects(mydns.createHost('leaving', 'the-next-owner'), /409/);
    assert.equal(await mydns.services.hosts.releaseName('leaving'), true);
    await mydns.createHost('leaving', 'the-next-owner');
  });
});

describe('lifecycle', () => {
  test('a month without updates makes a host dormant; its next update restores it at once', async () => {
    await mydns.createHost('sleepy', PASSWORD);
    await mydns.createHost('awake', PASSWORD);
    await mydns.request('/nic/update?hostname=sleepy&myip=198.51.100.60', { auth: ['sleepy', PASSWORD] });
    assert.deepEqual(await mydns.query.a(fqdn('sleepy')), ['198.51.100.60']);
    const now = Date.now();
    // Both were seen now; in 31 days only `awake` has updated meanwhile.
    await mydns
      .db('hosts')
      .where({ name: 'awake' })
      .update({ last_seen_at: new Date(now + 20 * 86_400_000) });
    const dryRun = await mydns.services.maintenance.expireInactive({
      now: new Date(now + 31 * 86_400_000),
      dryRun: true,
    });
    assert.ok(dryRun.includes(fqdn('sleepy')));
    assert.ok(!dryRun.includes(fqdn('awake')));
    assert.deepEqual(await mydns.query.a(fqdn('sleepy')), ['198.51.100.60'], 'a dry run changes nothing');

    const report = await mydns.services.maintenance.runOnce(new Date(now + 31 * 86_400_000));
    assert.ok(report?.dormant.includes(fqdn('sleepy')));
    assert.ok(!report?.dormant.includes(fqdn('awake')));
    await mydns.services.zoneWriters.flush();
    assert.deepEqual(await mydns.query.a(fqdn('sleepy')), [], 'dormant: no address in DNS');
    const view = JSON.parse(
      (await mydns.request('/api/v1/hosts/sleepy', { auth: ['sleepy', PASSWORD] })).body,
    );
    assert.equal(view.status, 'dormant');
    assert.equal(view.ipv4, '198.51.100.60', 'the address is kept, only withdrawn');

    assert.equal(
      (await mydns.request('/nic/update?hostname=sleepy&myip=198.51.100.60', { auth: ['sleepy', PASSWORD] }))
        .body,
      'good 198.51.100.60',
    );
    assert.deepEqual(await mydns.query.a(fqdn('sleepy')), ['198.51.100.60']);
  });

  test('a disabled host answers abuse and has no records; enabling brings them back', async () => {
    await mydns.createHost('naughty', PASSWORD);
    await mydns.request('/nic/update?hostname=naughty&myip=198.51.100.70', { auth: ['naughty', PASSWORD] });
    assert.deepEqual((await mydns.services.hosts.setStatus('naughty', 'disabled')).pushed, true);
    assert.deepEqual(await mydns.query.a(fqdn('naughty')), []);
    assert.equal(
      (
        await mydns.request('/nic/update?hostname=naughty&myip=198.51.100.71', {
          auth: ['naughty', PASSWORD],
        })
      ).body,
      'abuse',
    );
    assert.deepEqual(await mydns.query.a(fqdn('naughty')), []);
    await mydns.services.hosts.setStatus('naughty', 'active');
    assert.deepEqual(await mydns.query.a(fqdn('naughty')), ['198.51.100.70']);
  });
});
