import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestMyDns, type TestMyDns } from '../support/mydns.ts';

/**
 * The abuse limits (per host, per source address) and the address rules that
 * depend on settings: non-public addresses and trusted proxies.
 */

const PASSWORD = 'limits-password';

describe('abuse limits', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns({
      env: {
        MYDNS_HOST_UPDATE_LIMIT: '5/10m',
        MYDNS_LOGIN_FAILURE_LIMIT: '3/10m',
        MYDNS_BLOCKED_USER_AGENTS: 'EvilBot',
      },
    });
  });
  after(async () => {
    await mydns?.stop();
  });

  test('a host over its request limit gets abuse, nothing changes, other hosts are unaffected', async () => {
    await mydns.createHost('flappy', PASSWORD);
    await mydns.createHost('calm', PASSWORD);
    const auth: [string, string] = ['flappy', PASSWORD];
    for (let i = 1; i <= 5; i++) {
      const reply = await mydns.request(`/nic/update?hostname=flappy&myip=198.51.100.${i}`, { auth });
      assert.equal(reply.body, `good 198.51.100.${i}`);
    }
    const over = await mydns.request('/nic/update?hostname=flappy&myip=198.51.100.99', { auth });
    assert.equal(over.status, 200);
    assert.equal(over.body, 'abuse');
    assert.deepEqual(await mydns.query.a(`flappy.${mydns.zone}`), ['198.51.100.5']);
    const other = await mydns.request('/nic/update?hostname=calm&myip=198.51.100.50', {
      auth: ['calm', PASSWORD],
    });
    assert.equal(other.body, 'good 198.51.100.50');
    assert.deepEqual(await mydns.query.a(`calm.${mydns.zone}`), ['198.51.100.50']);
  });

  test('repeated failed logins from one address: abuse, even with the right password, no bcrypt', async () => {
    await mydns.createHost('victim', PASSWORD);
    for (let i = 0; i < 3; i++) {
      const reply = await mydns.request('/nic/update?hostname=victim&myip=198.51.100.60', {
        auth: ['victim', `guess-${i}`],
      });
      assert.equal(reply.status, 401);
      assert.equal(reply.body, 'badauth');
    }
    // The third failure reached the limit: from then on the address is blocked, without bcrypt.
    const compares = () => mydns.services.bcrypt.stats().compares;
    const comparesBefore = compares();
    assert.equal(
      (await mydns.request('/nic/update?hostname=victim', { auth: ['victim', 'guess-3'] })).body,
      'abuse',
    );
    const blocked = await mydns.request('/nic/update?hostname=victim&myip=198.51.100.61', {
      auth: ['victim', PASSWORD],
    });
    assert.equal(blocked.status, 200);
    assert.equal(blocked.body, 'abuse');
    assert.equal(compares(), comparesBefore, 'a blocked address must not reach bcrypt');
    assert.deepEqual(await mydns.query.a(`victim.${mydns.zone}`), []);
  });

  test('a user agent the operator blocked gets badagent', async () => {
    const reply = await mydns.request('/nic/update?hostname=calm&myip=198.51.100.70', {
      auth: ['calm', PASSWORD],
      headers: { 'user-agent': 'Mozilla/5.0 evilbot/1.0' },
    });
    assert.equal(reply.body, 'badagent');
  });
});

describe('non-public addresses (MYDNS_ALLOW_PRIVATE_ADDRESSES=false) and trusted proxies', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns({
      env: { MYDNS_ALLOW_PRIVATE_ADDRESSES: 'false', MYDNS_TRUSTED_PROXIES: '127.0.0.1/32' },
    });
  });
  after(async () => {
    await mydns?.stop();
  });

  test('a LAN address in myip is replaced by the caller’s public address', async () => {
    await mydns.createHost('lan', PASSWORD);
    const reply = await mydns.request('/nic/update?hostname=lan&myip=192.168.1.20', {
      auth: ['lan', PASSWORD],
      headers: { 'x-forwarded-for': '8.8.4.4' },
    });
    assert.equal(reply.body, 'good 8.8.4.4');
    assert.deepEqual(await mydns.query.a(`lan.${mydns.zone}`), ['8.8.4.4']);
  });

  test('public addresses are taken as sent', async () => {
    await mydns.createHost('pub', PASSWORD);
    const reply = await mydns.request('/nic/update?hostname=pub&myip=9.9.9.9,2620:fe::fe', {
      auth: ['pub', PASSWORD],
      headers: { 'x-forwarded-for': '8.8.4.4' },
    });
    assert.equal(reply.body, 'good 9.9.9.9,2620:fe::fe');
    assert.deepEqual(await mydns.query.a(`pub.${mydns.zone}`), ['9.9.9.9']);
    assert.deepEqual(await mydns.query.aaaa(`pub.${mydns.zone}`), ['2620:fe::fe']);
  });

  test('no public address anywhere: dnserr, nothing changes', async () => {
    await mydns.createHost('nopublic', PASSWORD);
    const direct = await mydns.request('/nic/update?hostname=nopublic', { auth: ['nopublic', PASSWORD] });
    assert.equal(direct.body, 'dnserr');
    for (const address of [
      '10.1.2.3',
      '100.64.0.1',
      '169.254.1.1',
      '192.0.2.1',
      'fd00::1',
      'fe80::1',
      '::1',
    ]) {
      const reply = await mydns.request(`/nic/update?hostname=nopublic&myip=${address}`, {
        auth: ['nopublic', PASSWORD],
      });
      assert.equal(reply.body, 'dnserr', address);
    }
    assert.deepEqual(await mydns.query.a(`nopublic.${mydns.zone}`), []);
    assert.deepEqual(await mydns.query.aaaa(`nopublic.${mydns.zone}`), []);
  });

  test('X-Forwarded-For counts only from a trusted proxy, right-most untrusted hop', async () => {
    await mydns.createHost('proxied', PASSWORD);
    const reply = await mydns.request('/nic/update?hostname=proxied', {
      auth: ['proxied', PASSWORD],
      headers: { 'x-forwarded-for': '1.1.1.1, 9.9.9.9, 127.0.0.1' },
    });
    assert.equal(reply.body, 'good 9.9.9.9');
    const checkip = await mydns.request('/checkip', { headers: { 'x-forwarded-for': '9.9.9.10' } });
    assert.equal(checkip.body, 'Current IP Address: 9.9.9.10');
  });
});

describe('an untrusted peer cannot claim an address with X-Forwarded-For', () => {
  let mydns: TestMyDns;
  before(async () => {
    mydns = await startTestMyDns({ env: { MYDNS_TRUSTED_PROXIES: '10.0.0.0/8' } });
  });
  after(async () => {
    await mydns?.stop();
  });

  test('the header is ignored', async () => {
    await mydns.createHost('spoof', PASSWORD);
    const reply = await mydns.request('/nic/update?hostname=spoof', {
      auth: ['spoof', PASSWORD],
      headers: { 'x-forwarded-for': '9.9.9.9' },
    });
    assert.equal(reply.body, 'good 127.0.0.1');
    assert.deepEqual(await mydns.query.a(`spoof.${mydns.zone}`), ['127.0.0.1']);
  });
});
