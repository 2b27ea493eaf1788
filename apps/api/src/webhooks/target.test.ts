import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkWebhookUrl, refusedAddressReason, resolveTarget, urlForLog } from './target.ts';

describe('webhook target addresses', () => {
  const refused: [string, RegExp][] = [
    ['127.0.0.1', /special-purpose/],
    ['10.1.2.3', /special-purpose/],
    ['172.16.0.1', /special-purpose/],
    ['192.168.178.1', /special-purpose/],
    ['169.254.169.254', /special-purpose/], // cloud metadata
    ['100.64.0.1', /special-purpose/], // CGNAT
    ['0.0.0.0', /special-purpose/],
    ['224.0.0.1', /special-purpose/], // multicast
    ['255.255.255.255', /special-purpose/],
    ['::1', /special-purpose/],
    ['::', /special-purpose/],
    ['fe80::1', /special-purpose/],
    ['fc00::1', /special-purpose/],
    ['ff02::1', /special-purpose/],
    ['::ffff:127.0.0.1', /special-purpose/], // IPv4-mapped: the IPv4 address is checked
    ['64:ff9b::a00:1', /nat64 form of special-purpose 10\.0\.0\.1/],
    ['2002:c0a8:0101::1', /6to4 form of special-purpose 192\.168\.1\.1/],
    ['not-an-address', /not an address/],
  ];
  for (const [address, reason] of refused) {
    test(`${address} is refused`, () => {
      assert.match(refusedAddressReason(address, false) ?? 'allowed', reason);
    });
  }
  for (const address of ['93.184.215.14', '8.8.8.8', '2606:4700:4700::1111', '2a00:1450:4001:80b::200e']) {
    test(`${address} is public`, () => assert.equal(refusedAddressReason(address, false), undefined));
  }
  test('MYDNS_ALLOW_PRIVATE_WEBHOOKS lets private addresses through, never non-addresses', () => {
    assert.equal(refusedAddressReason('127.0.0.1', true), undefined);
    assert.match(refusedAddressReason('x', true) ?? '', /not an address/);
  });
});

describe('webhook URLs', () => {
  test('http and https only, no credentials, a host', () => {
    assert.equal(checkWebhookUrl('https://hooks.example.com/x?a=1').ok, true);
    assert.equal(checkWebhookUrl('http://[2606:4700::1]:8080/').ok, true);
    for (const bad of [
      'ftp://example.com/',
      'file:///etc/passwd',
      'https://user:pw@example.com/',
      'https://user@example.com/',
      'not a url',
      '',
      42,
      `https://example.com/${'a'.repeat(2100)}`,
    ]) {
      assert.equal(checkWebhookUrl(bad).ok, false, String(bad));
    }
  });
  test('logged without the query string', () => {
    assert.equal(
      urlForLog('https://h.example.com:8443/p/q?token=s3cret#f'),
      'https://h.example.com:8443/p/q',
    );
  });
});

describe('resolveTarget', () => {
  const table: Record<string, string[]> = {
    'public.example': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    'mixed.example': ['93.184.215.14', '10.0.0.5'],
    'rebind.example': ['127.0.0.1'],
  };
  const resolve = async (name: string) => {
    const found = table[name];
    if (!found) throw new Error('ENOTFOUND');
    return found;
  };
  const check = (url: string, allowPrivate = false) => resolveTarget(new URL(url), { resolve, allowPrivate });

  test('every address of the name must be public; the first one is connected to', async () => {
    assert.deepEqual(await check('https://public.example/'), { ok: true, address: '93.184.215.14' });
    const mixed = await check('https://mixed.example/');
    assert.equal(mixed.ok, false);
    assert.match(mixed.ok ? '' : mixed.reason, /10\.0\.0\.5 is special-purpose/);
    assert.equal((await check('https://rebind.example/')).ok, false);
    assert.equal((await check('https://rebind.example/', true)).ok, true);
  });
  test('a literal address is checked as it is; a name that does not resolve is said so', async () => {
    assert.equal((await check('http://[::1]:9/')).ok, false);
    assert.deepEqual(await check('http://8.8.8.8/'), { ok: true, address: '8.8.8.8' });
    assert.deepEqual(await check('http://nowhere.example/'), {
      ok: false,
      reason: 'nowhere.example does not resolve',
      unresolved: true,
    });
  });
});
