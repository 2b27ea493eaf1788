import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { basic, rawHttp, startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { waitFor } from '../support/wait.ts';

/**
 * The update endpoints end to end: each case checks the HTTP reply, what
 * PowerDNS holds, and what a DNS query answers.
 */

let mydns: TestMyDns;
const PASSWORD = 'correct-horse-battery';

before(async () => {
  mydns = await startTestMyDns();
});
after(async () => {
  await mydns?.stop();
});

async function expectDns(label: string, a: string[], aaaa: string[] = []) {
  const name = `${label}.${mydns.zone}`;
  assert.deepEqual(await mydns.records(label, 'A'), a, `PowerDNS A of ${name}`);
  assert.deepEqual(await mydns.records(label, 'AAAA'), aaaa, `PowerDNS AAAA of ${name}`);
  assert.deepEqual(await mydns.query.a(name), a, `DNS answer A of ${name}`);
  assert.deepEqual(await mydns.query.aaaa(name), aaaa, `DNS answer AAAA of ${name}`);
}

describe('DynDNS2 /nic/update', () => {
  test('good, then nochg for the same address, then good for a new one', async () => {
    await mydns.createHost('alice', PASSWORD);
    const path = `/nic/update?system=dyndns&hostname=alice.${mydns.zone}&myip=203.0.113.7`;
    const first = await mydns.request(path, { auth: [`alice.${mydns.zone}`, PASSWORD] });
    assert.equal(first.status, 200);
    assert.equal(first.body, 'good 203.0.113.7');
    assert.equal(first.headers.get('content-type'), 'text/plain; charset=utf-8');
    await expectDns('alice', ['203.0.113.7']);

    const again = await mydns.request(path, { auth: ['alice', PASSWORD] });
    assert.equal(again.body, 'nochg 203.0.113.7');

    const moved = await mydns.request(path.replace('203.0.113.7', '198.51.100.20'), {
      auth: ['ALICE', PASSWORD],
    });
    assert.equal(moved.body, 'good 198.51.100.20');
    await expectDns('alice', ['198.51.100.20']);
  });

  test('missing credentials: 401 with a Basic challenge and badauth; nothing changes', async () => {
    await mydns.createHost('nocreds', PASSWORD);
    const reply = await mydns.request(`/nic/update?hostname=nocreds.${mydns.zone}&myip=203.0.113.9`);
    assert.equal(reply.status, 401);
    assert.equal(reply.body, 'badauth');
    assert.match(reply.headers.get('www-authenticate') ?? '', /^Basic realm="MyDNS"/);
    await expectDns('nocreds', []);
  });

  test('wrong password and unknown user: the same 401 challenge', async () => {
    await mydns.createHost('wrongpw', PASSWORD);
    const wrong = await mydns.request(`/nic/update?hostname=wrongpw.${mydns.zone}&myip=203.0.113.9`, {
      auth: ['wrongpw', 'not-the-password'],
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body, 'badauth');
    assert.match(wrong.headers.get('www-authenticate') ?? '', /Basic/);
    const unknown = await mydns.request(`/nic/update?hostname=ghost.${mydns.zone}&myip=203.0.113.9`, {
      auth: ['ghost', PASSWORD],
    });
    assert.equal(unknown.status, 401);
    assert.equal(unknown.body, 'badauth');
    await expectDns('wrongpw', []);
  });

  test('credentials in the query (username/password and user/pass)', async () => {
    await mydns.createHost('querycreds', PASSWORD);
    const a = await mydns.request(
      `/nic/update?hostname=querycreds.${mydns.zone}&myip=203.0.113.30&username=querycreds&password=${PASSWORD}`,
    );
    assert.equal(a.body, 'good 203.0.113.30');
    const b = await mydns.request(
      `/nic/update?hostname=querycreds&myip=203.0.113.31&user=querycreds&pass=${PASSWORD}`,
    );
    assert.equal(b.body, 'good 203.0.113.31');
    await expectDns('querycreds', ['203.0.113.31']);
  });

  test('one line per hostname, in order: own host, foreign host, other zone, invalid name', async () => {
    await mydns.createHost('multi', PASSWORD);
    await mydns.createHost('someoneelse', PASSWORD);
    const hostnames = [
      `multi.${mydns.zone}`,
      `someoneelse.${mydns.zone}`,
      'multi.example.org',
      'bad..name',
      'MULTI',
    ].join(',');
    const reply = await mydns.request(`/nic/update?hostname=${hostnames}&myip=203.0.113.40`, {
      auth: ['multi', PASSWORD],
    });
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'good 203.0.113.40\nnohost\nnohost\nnotfqdn\ngood 203.0.113.40');
    await expectDns('multi', ['203.0.113.40']);
    await expectDns('someoneelse', []);
  });

  test('more than 20 hostnames: numhost, nothing changes', async () => {
    await mydns.createHost('many', PASSWORD);
    const names = Array.from({ length: 21 }, () => `many.${mydns.zone}`).join(',');
    const reply = await mydns.request(`/nic/update?hostname=${names}&myip=203.0.113.41`, {
      auth: ['many', PASSWORD],
    });
    assert.equal(reply.body, 'numhost');
    await expectDns('many', []);
  });

  test('no hostname: the Basic username names the host (Fritz!Box bare URL)', async () => {
    await mydns.createHost('fritz', PASSWORD);
    const reply = await mydns.request('/nic/update', {
      auth: ['fritz', PASSWORD],
      headers: { 'user-agent': 'Fritz!Box DDNS/1.0.1' },
    });
    assert.equal(reply.body, 'good 127.0.0.1');
    await expectDns('fritz', ['127.0.0.1']);
  });

  test('dual stack in one request, v4 first, in either order', async () => {
    await mydns.createHost('dual', PASSWORD);
    const reply = await mydns.request(`/nic/update?hostname=dual&myip=2001:db8::2,198.51.100.4`, {
      auth: ['dual', PASSWORD],
    });
    assert.equal(reply.body, 'good 198.51.100.4,2001:db8::2');
    await expectDns('dual', ['198.51.100.4'], ['2001:db8::2']);
  });

  test('separate v4 and v6 updaters keep each other’s family', async () => {
    await mydns.createHost('split', PASSWORD);
    const v4 = await mydns.request('/nic/update?hostname=split&myip=198.51.100.5', {
      auth: ['split', PASSWORD],
    });
    assert.equal(v4.body, 'good 198.51.100.5');
    const v6 = await mydns.request('/nic/update?hostname=split&myipv6=2001:db8::5', {
      auth: ['split', PASSWORD],
    });
    assert.equal(v6.body, 'good 2001:db8::5');
    await expectDns('split', ['198.51.100.5'], ['2001:db8::5']);
    const v4again = await mydns.request('/nic/update?hostname=split&myip=198.51.100.6', {
      auth: ['split', PASSWORD],
    });
    assert.equal(v4again.body, 'good 198.51.100.6');
    await expectDns('split', ['198.51.100.6'], ['2001:db8::5']);
  });

  test('percent-encoded IPv6 (inadyn) and zero-padded IPv6 (OpenWrt) are the same address', async () => {
    await mydns.createHost('spell', PASSWORD);
    const encoded = await mydns.request('/nic/update?hostname=spell&myip=2001%3adb8%3a%3a1', {
      auth: ['spell', PASSWORD],
    });
    assert.equal(encoded.body, 'good 2001:db8::1');
    const padded = await mydns.request(
      '/nic/update?hostname=spell&myip=2001:0db8:0000:0000:0000:0000:0000:0001',
      {
        auth: ['spell', PASSWORD],
      },
    );
    assert.equal(padded.body, 'nochg 2001:db8::1');
    const prefixed = await mydns.request('/nic/update?hostname=spell&myipv6=2001:DB8::1/64', {
      auth: ['spell', PASSWORD],
    });
    assert.equal(prefixed.body, 'nochg 2001:db8::1');
    await expectDns('spell', [], ['2001:db8::1']);
  });

  test('explicit empty myipv6= withdraws AAAA; offline=YES withdraws both; preserve keeps', async () => {
    await mydns.createHost('withdraw', PASSWORD);
    const auth: [string, string] = ['withdraw', PASSWORD];
    assert.equal(
      (await mydns.request('/nic/update?hostname=withdraw&myip=198.51.100.7,2001:db8::7', { auth })).body,
      'good 198.51.100.7,2001:db8::7',
    );
    assert.equal(
      (await mydns.request('/nic/update?hostname=withdraw&myipv6=preserve&myip=198.51.100.8', { auth })).body,
      'good 198.51.100.8',
    );
    await expectDns('withdraw', ['198.51.100.8'], ['2001:db8::7']);
    assert.equal(
      (await mydns.request('/nic/update?hostname=withdraw&myipv4=preserve&myipv6=', { auth })).body,
      'good',
    );
    await expectDns('withdraw', ['198.51.100.8'], []);
    assert.equal((await mydns.request('/nic/update?hostname=withdraw&offline=YES', { auth })).body, 'good');
    await expectDns('withdraw', [], []);
  });

  test('an unparsable address is dnserr and changes nothing', async () => {
    await mydns.createHost('garbage', PASSWORD);
    const auth: [string, string] = ['garbage', PASSWORD];
    assert.equal(
      (await mydns.request('/nic/update?hostname=garbage&myip=198.51.100.9', { auth })).body,
      'good 198.51.100.9',
    );
    for (const bad of [
      '1.2.3',
      '300.1.1.1',
      '010.1.1.1',
      'fe80::1%25eth0',
      'example.org',
      '1.2.3.4,5.6.7.8',
    ]) {
      const reply = await mydns.request(`/nic/update?hostname=garbage&myip=${bad}`, { auth });
      assert.equal(reply.status, 200, bad);
      assert.equal(reply.body, 'dnserr', bad);
    }
    await expectDns('garbage', ['198.51.100.9']);
  });

  test('aliases of the path: /v3/update, /update, trailing and doubled slashes; POST and HEAD', async () => {
    await mydns.createHost('paths', PASSWORD);
    const auth: [string, string] = ['paths', PASSWORD];
    assert.equal(
      (await mydns.request('/v3/update?hostname=paths&myip=198.51.100.10', { auth })).body,
      'good 198.51.100.10',
    );
    assert.equal(
      (await mydns.request('/update/?hostname=paths&myip=198.51.100.11', { auth })).body,
      'good 198.51.100.11',
    );
    assert.equal(
      (await mydns.request('//nic//update?hostname=paths&myip=198.51.100.12', { auth })).body,
      'good 198.51.100.12',
    );
    const post = await mydns.request('/nic/update', {
      auth,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'hostname=paths&myip=198.51.100.13',
    });
    assert.equal(post.body, 'good 198.51.100.13');
    const head = await mydns.request('/nic/update?hostname=paths&myip=198.51.100.13', {
      auth,
      method: 'HEAD',
    });
    assert.equal(head.status, 200);
    const put = await mydns.request('/nic/update?hostname=paths', { auth, method: 'PUT' });
    assert.equal(put.status, 405);
    await expectDns('paths', ['198.51.100.13']);
  });

  test('a bare hostname key without "=" (old inadyn, DD-WRT)', async () => {
    await mydns.createHost('barekey', PASSWORD);
    const reply = await mydns.request(`/nic/update?barekey.${mydns.zone}`, { auth: ['barekey', PASSWORD] });
    assert.equal(reply.body, 'good 127.0.0.1');
    await expectDns('barekey', ['127.0.0.1']);
  });

  test('the wire format: HTTP/1.0, fixed length, reason phrase, no chunking, connection closed', async () => {
    await mydns.createHost('wire', PASSWORD);
    const reply = await rawHttp(
      mydns.port,
      `GET /nic/update?hostname=wire.${mydns.zone},nope.example&myip=198.51.100.14 HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: ${basic('wire', PASSWORD)}\r\nUser-Agent: inadyn/2.10.0 https://github.com/troglobit/inadyn/issues\r\n\r\n`,
    );
    const [head, body] = reply.split('\r\n\r\n');
    assert.match(head ?? '', /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(head ?? '', /\r\nContent-Length: 25\r\n/i);
    assert.doesNotMatch(head ?? '', /Transfer-Encoding/i);
    assert.doesNotMatch(head ?? '', /Content-Encoding/i);
    assert.equal(body, 'good 198.51.100.14\nnohost');

    // ddclient 3.10: HTTP/1.1 with Connection: close, read to EOF.
    const ddclient = await rawHttp(
      mydns.port,
      `GET /nic/update?system=dyndns&hostname=wire.${mydns.zone}&myip=198.51.100.14 HTTP/1.1\r\nHost: 127.0.0.1:${mydns.port}\r\nAuthorization: ${basic('wire', PASSWORD)}\r\nUser-Agent: ddclient/3.10.0\r\nConnection: close\r\n\r\n`,
    );
    assert.match(ddclient, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(ddclient.endsWith('\r\n\r\nnochg 198.51.100.14'), ddclient);
  });

  test('/checkip answers the caller’s address', async () => {
    const reply = await mydns.request('/checkip');
    assert.equal(reply.status, 200);
    assert.equal(reply.body, 'Current IP Address: 127.0.0.1');
  });
});

describe('the simple URL /u.php', () => {
  test('hostname + password in the query, address from the connection', async () => {
    await mydns.createHost('simple', PASSWORD);
    const reply = await mydns.request(`/u.php?hostname=simple.${mydns.zone}&password=${PASSWORD}`);
    assert.equal(reply.body, 'good 127.0.0.1');
    const again = await mydns.request(`/u.php?h=simple&p=${PASSWORD}`);
    assert.equal(again.body, 'nochg 127.0.0.1');
    await expectDns('simple', ['127.0.0.1']);
  });

  test('the aliases host/domain + pass/pwd/token, and Basic auth', async () => {
    await mydns.createHost('aliases', PASSWORD);
    assert.equal(
      (await mydns.request(`/u.php?host=aliases&pass=${PASSWORD}&myip=198.51.100.50`)).body,
      'good 198.51.100.50',
    );
    assert.equal(
      (await mydns.request(`/u.php?domain=aliases&pwd=${PASSWORD}&ip=198.51.100.51`)).body,
      'good 198.51.100.51',
    );
    assert.equal(
      (await mydns.request(`/u.php?hostname=aliases&token=${PASSWORD}&myip=198.51.100.52`)).body,
      'good 198.51.100.52',
    );
    assert.equal(
      (await mydns.request('/u.php?myip=198.51.100.53', { auth: ['aliases', PASSWORD] })).body,
      'good 198.51.100.53',
    );
    await expectDns('aliases', ['198.51.100.53']);
  });

  test('a wrong password on the simple URL is a 401 too', async () => {
    await mydns.createHost('simplewrong', PASSWORD);
    const reply = await mydns.request('/u.php?hostname=simplewrong&password=nope-nope-nope');
    assert.equal(reply.status, 401);
    assert.equal(reply.body, 'badauth');
    await expectDns('simplewrong', []);
  });
});

describe('activity', () => {
  test('nochg writes "last seen" at most once an hour', async () => {
    await mydns.createHost('seen', PASSWORD);
    const auth: [string, string] = ['seen', PASSWORD];
    assert.equal(
      (await mydns.request('/nic/update?hostname=seen&myip=198.51.100.90', { auth })).body,
      'good 198.51.100.90',
    );
    const lastSeen = async () =>
      (
        (await mydns.db('hosts').where({ name: 'seen' }).first('last_seen_at')).last_seen_at as Date
      ).getTime();
    const afterGood = await lastSeen();
    assert.equal(
      (await mydns.request('/nic/update?hostname=seen&myip=198.51.100.90', { auth })).body,
      'nochg 198.51.100.90',
    );
    assert.equal(await lastSeen(), afterGood, 'a nochg within the hour writes nothing');

    await mydns
      .db('hosts')
      .where({ name: 'seen' })
      .update({ last_seen_at: mydns.db.raw("now() - interval '61 minutes'") });

    // The change is announced to the host cache asynchronously; wait until it is dropped.
    await waitFor(() => !mydns.services.hostCache.holds({ zone: mydns.zone, name: 'seen' }), {
      message: 'the host cache to drop the changed row',
      timeoutMs: 5000,
      intervalMs: 10,
    });
    const old = await lastSeen();
    assert.equal(
      (await mydns.request('/nic/update?hostname=seen&myip=198.51.100.90', { auth })).body,
      'nochg 198.51.100.90',
    );
    const touched = await lastSeen();
    assert.ok(touched > old + 60 * 60_000, 'a nochg after an hour records the activity');
    assert.equal(
      (await mydns.request('/nic/update?hostname=seen&myip=198.51.100.90', { auth })).body,
      'nochg 198.51.100.90',
    );
    assert.equal(await lastSeen(), touched);
  });
});
