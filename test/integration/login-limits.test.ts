import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { basic, startTestMyDns, type TestMyDns } from '../support/mydns.ts';
import { noteSecret } from '../support/secrets.ts';

/**
 * The password-guessing limits against the real stack (README "Security"):
 * parallel floods from one address are checked at most the limit's worth of
 * times, a cold login from elsewhere gets through meanwhile, IPv6 sources are
 * counted per /64, and a shared address that is over the limit does not lock
 * out the credentials and tokens that already work. The sources are real TCP
 * sources (other 127/8 addresses), or, where the test needs IPv6 sources,
 * X-Forwarded-For from a trusted proxy.
 */

const PASSWORD = 'a-login-limits-password';

/** GET from a chosen local source address (127.0.0.2, …), as another machine would. */
function getFrom(
  mydns: TestMyDns,
  source: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: mydns.port, path, localAddress: source, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const update = (name: string, secret: string) => ({ authorization: basic(name, secret) });

describe('a parallel flood of wrong passwords from one address', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns({
      env: {
        // Real bcrypt work: a flood that is checked in full takes long enough to notice.
        MYDNS_BCRYPT_COST: '10',
        MYDNS_LOGIN_FAILURE_LIMIT: '20/10m',
        MYDNS_LOGIN_HOST_FAILURE_LIMIT: '20/10m',
        MYDNS_HOST_UPDATE_LIMIT: '100000/10m',
      },
    });
    await mydns.createHost('target', PASSWORD);
    await mydns.createHost('bystander', PASSWORD);
  });
  after(async () => {
    await mydns?.stop();
  });

  test('at most the limit is checked (401), the rest are answered abuse; a cold login from elsewhere gets through', async () => {
    const comparesBefore = mydns.services.bcrypt.stats().compares;
    const flood = Array.from({ length: 300 }, (_, i) =>
      getFrom(
        mydns,
        '127.0.0.2',
        '/nic/update?hostname=target&myip=198.51.100.1',
        update('target', `guess-${i}`),
      ),
    );
    // A legitimate first login from another address while the flood is being answered.
    const cold = getFrom(
      mydns,
      '127.0.0.3',
      '/nic/update?hostname=bystander&myip=198.51.100.2',
      update('bystander', PASSWORD),
    );
    const replies = await Promise.all(flood);
    const unauthorized = replies.filter((r) => r.status === 401 && r.body === 'badauth').length;
    const abuse = replies.filter((r) => r.status === 200 && r.body === 'abuse').length;
    assert.ok(unauthorized <= 20, `${unauthorized} wrong passwords were checked (limit 20)`);
    assert.ok(unauthorized >= 1, 'the first guesses are checked and refused');
    assert.equal(unauthorized + abuse, 300, 'every other guess is answered abuse');
    assert.ok(
      mydns.services.bcrypt.stats().compares - comparesBefore <= 21,
      'bcrypt ran at most the limit for the flood, plus the cold login',
    );
    const coldReply = await cold;
    assert.equal(coldReply.body, 'good 198.51.100.2');
    assert.deepEqual(await mydns.query.a(`bystander.${mydns.zone}`), ['198.51.100.2']);
    assert.deepEqual(await mydns.query.a(`target.${mydns.zone}`), []);

    // Now blocked: even the right password is abuse from that address, without bcrypt.
    const compares = mydns.services.bcrypt.stats().compares;
    const blocked = await getFrom(
      mydns,
      '127.0.0.2',
      '/nic/update?hostname=target&myip=198.51.100.1',
      update('target', PASSWORD),
    );
    assert.equal(blocked.body, 'abuse');
    assert.equal(mydns.services.bcrypt.stats().compares, compares);
  });

  test('failures and blocks are counted in /metrics', async () => {
    const metrics = (await mydns.request('/metrics')).body;
    const failures = /^mydns_login_failures_total\{edge="update"\} (\d+)/m.exec(metrics);
    assert.ok(failures && Number(failures[1]) >= 1, 'mydns_login_failures_total{edge="update"}');
    assert.match(metrics, /^mydns_login_blocks_total\{scope="(source|source_host)"\} [1-9]/m);
    assert.match(metrics, /^mydns_login_refusals_total\{edge="update",reason="blocked"\} [1-9]/m);
  });
});

describe('shared addresses and IPv6 networks', () => {
  let mydns: TestMyDns;
  const proxy = (client: string, secretHeaders: Record<string, string>) => ({
    ...secretHeaders,
    'x-forwarded-for': client,
  });
  before(async () => {
    mydns = await startTestMyDns({
      env: {
        MYDNS_LOGIN_FAILURE_LIMIT: '5/10m',
        MYDNS_LOGIN_HOST_FAILURE_LIMIT: '3/10m',
        MYDNS_REGISTRATION_LIMIT: '2/1h',
        MYDNS_TRUSTED_PROXIES: '127.0.0.1/32',
      },
    });
    // Registered from addresses of their own: this test's registration limit is small.
    for (const [i, name] of ['router', 'tokened', 'victim', 'other'].entries()) {
      const created = await mydns.request('/api/v1/hosts', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `192.0.2.${i + 1}` },
        body: JSON.stringify({ hostname: name, password: PASSWORD }),
      });
      assert.equal(created.status, 201, created.body);
    }
  });
  after(async () => {
    await mydns?.stop();
  });

  test('IPv6 sources are counted per /64: another address of the same network is blocked, the next network is not', async () => {
    for (let i = 1; i <= 5; i++) {
      const reply = await mydns.request('/nic/update?hostname=other', {
        headers: proxy(`2001:db8:aa:1::${i}`, update(`nobody${i}`, 'guess')),
      });
      assert.equal(reply.status, 401, `guess ${i}`);
    }
    const sameNetwork = await mydns.request('/nic/update?hostname=other&myip=198.51.100.9', {
      headers: proxy('2001:db8:aa:1:ffff:ffff:ffff:ffff', update('other', PASSWORD)),
    });
    assert.equal(sameNetwork.body, 'abuse');
    const nextNetwork = await mydns.request('/nic/update?hostname=other&myip=198.51.100.9', {
      headers: proxy('2001:db8:aa:2::1', update('other', PASSWORD)),
    });
    assert.equal(nextNetwork.body, 'good 198.51.100.9');
  });

  test('registrations are counted per /64 too', async () => {
    const register = (client: string, name: string) =>
      mydns.request('/api/v1/hosts', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': client },
        body: JSON.stringify({ hostname: name, password: PASSWORD }),
      });
    assert.equal((await register('2001:db8:bb:1::1', 'reg-one')).status, 201);
    assert.equal((await register('2001:db8:bb:1::2', 'reg-two')).status, 201);
    const third = await register('2001:db8:bb:1:abcd::3', 'reg-three');
    assert.equal(third.status, 429);
    assert.equal((await register('2001:db8:bb:2::1', 'reg-four')).status, 201);
  });

  test('guessing at one host is stopped per (source, host) before the whole address is', async () => {
    const client = '100.64.9.9';
    for (let i = 0; i < 3; i++) {
      const reply = await mydns.request('/nic/update?hostname=victim', {
        headers: proxy(client, update('victim', `guess-${i}`)),
      });
      assert.equal(reply.status, 401);
    }
    const victim = await mydns.request('/nic/update?hostname=victim&myip=198.51.100.20', {
      headers: proxy(client, update('victim', PASSWORD)),
    });
    assert.equal(victim.body, 'abuse', 'that host is blocked for this address');
    const other = await mydns.request('/nic/update?hostname=other&myip=198.51.100.21', {
      headers: proxy(client, update('other', PASSWORD)),
    });
    assert.equal(other.body, 'good 198.51.100.21', 'other hosts behind the same address still log in');
  });

  test('behind a blocked shared address (CGNAT), a recently verified credential and a token keep working', async () => {
    const client = '100.64.1.1';
    // The router and the token verified before the attack.
    const first = await mydns.request('/nic/update?hostname=router&myip=198.51.100.30', {
      headers: proxy(client, update('router', PASSWORD)),
    });
    assert.equal(first.body, 'good 198.51.100.30');
    const created = await mydns.request('/api/v1/hosts/tokened/tokens', {
      method: 'POST',
      auth: ['tokened', PASSWORD],
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'router' }),
    });
    const { token } = JSON.parse(created.body) as { token: string };
    noteSecret(token);
    // Someone else behind the same address guesses until the address is blocked.
    for (let i = 0; i < 5; i++) {
      await mydns.request('/nic/update', { headers: proxy(client, update(`guess${i}`, 'guess')) });
    }
    const cold = await mydns.request('/nic/update?hostname=victim', {
      headers: proxy(client, update('victim', PASSWORD)),
    });
    assert.equal(cold.body, 'abuse', 'a cold login from the blocked address is refused');
    const router = await mydns.request('/nic/update?hostname=router&myip=198.51.100.31', {
      headers: proxy(client, update('router', PASSWORD)),
    });
    assert.equal(router.body, 'good 198.51.100.31', 'the cached credential is not refused');
    const byToken = await mydns.request(`/u.php?token=${token}&myip=198.51.100.32`, {
      headers: { 'x-forwarded-for': client },
    });
    assert.equal(byToken.body, 'good 198.51.100.32', 'a valid token is not refused');
    assert.deepEqual(await mydns.query.a(`router.${mydns.zone}`), ['198.51.100.31']);
    assert.deepEqual(await mydns.query.a(`tokened.${mydns.zone}`), ['198.51.100.32']);
  });
});
