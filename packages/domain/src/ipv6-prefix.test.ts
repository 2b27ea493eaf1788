import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  addressOnPrefix,
  effectivePrefix64,
  isInterfaceIdentifier,
  lanPrefix,
  movePrefix,
  parseIpv6Prefix,
} from './ipv6-prefix.ts';

const prefix = (text: string) => {
  const parsed = parseIpv6Prefix(text);
  if (!parsed?.ok) throw new Error(`test setup: ${text}`);
  return parsed.prefix;
};

describe('parseIpv6Prefix', () => {
  const cases: readonly [string, string | undefined | RegExp][] = [
    ['2001:db8:1:2::/64', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2::1/64', '2001:db8:1:2::/64'], // host bits ignored (MikroTik sends an address with a length)
    ['[2001:db8:1200::]/56', '2001:db8:1200::/56'],
    ['2001:db8:12ff:ffff::/56', '2001:db8:12ff:ff00::/56'],
    ['2a02:908:1200:1234::/59', '2a02:908:1200:1220::/59'], // Fritz!Box, nsupdate.info#648
    ['2001:db8::/48', '2001:db8::/48'],
    ['2001:db8::1', undefined], // no length: an address
    ['2001:db8::/47', /\/48 to \/64/],
    ['2001:db8::/65', /\/48 to \/64/],
    ['2001:db8::/128', /\/48 to \/64/],
    ['192.0.2.0/24', /not an IPv6 prefix/],
    ['2001:db8::/x', /not an IPv6 prefix/],
  ];
  for (const [input, expected] of cases) {
    test(`${input} → ${String(expected)}`, () => {
      const parsed = parseIpv6Prefix(input);
      if (expected === undefined) assert.equal(parsed, undefined);
      else if (typeof expected === 'string') assert.deepEqual(parsed?.ok && parsed.prefix.text, expected);
      else assert.match(parsed && !parsed.ok ? parsed.reason : '', expected);
    });
  }
});

describe('prefix moves', () => {
  test('the host AAAA keeps its bits after the length; the identifier /64 keeps its subnet bits', () => {
    const moved = movePrefix(
      { ipv6: '2001:db8:aa:5:1:2:3:4', ipv6Prefix: '2001:db8:aa:7::/64' },
      prefix('2001:db8:bb00::/56'),
    );
    assert.deepEqual(moved, { ipv6: '2001:db8:bb00:5:1:2:3:4', ipv6Prefix: '2001:db8:bb00:7::/64' });
  });
  test('without a stored /64, the AAAA’s own /64 is moved', () => {
    assert.deepEqual(movePrefix({ ipv6: '2001:db8:0:1::9', ipv6Prefix: null }, prefix('2001:db8:5:1::/64')), {
      ipv6: '2001:db8:5:1::9',
      ipv6Prefix: '2001:db8:5:1::/64',
    });
  });
  test('no AAAA: none is made up; the identifier records still get the prefix', () => {
    assert.deepEqual(movePrefix({ ipv6: null, ipv6Prefix: null }, prefix('2001:db8:5::/48')), {
      ipv6: null,
      ipv6Prefix: '2001:db8:5::/64',
    });
  });
  test('a LAN prefix changes only the identifier /64', () => {
    assert.equal(
      lanPrefix({ ipv6: '2001:db8:ff::1', ipv6Prefix: null }, prefix('2001:db8:1:2::/64')),
      '2001:db8:1:2::/64',
    );
  });
  test('the effective /64 and an identifier on it', () => {
    assert.equal(effectivePrefix64('2001:db8:0:1::9', null), '2001:db8:0:1::/64');
    assert.equal(effectivePrefix64('2001:db8:0:1::9', '2001:db8:7::/64'), '2001:db8:7::/64');
    assert.equal(effectivePrefix64(null, null), undefined);
    assert.equal(
      addressOnPrefix('2001:db8:1:2::/64', '::211:22ff:fe33:4455'),
      '2001:db8:1:2:211:22ff:fe33:4455',
    );
  });
  test('interface identifiers: ::<low 64 bits>, upper half zero, lower half not', () => {
    assert.equal(isInterfaceIdentifier('::211:22ff:fe33:4455'), true);
    assert.equal(isInterfaceIdentifier('::2'), true);
    assert.equal(isInterfaceIdentifier('::'), false);
    assert.equal(isInterfaceIdentifier('2001:db8::2'), false);
    assert.equal(isInterfaceIdentifier('::1:0:0:0:2'), false);
    assert.equal(isInterfaceIdentifier('::ffff:192.0.2.1'), false);
  });
});
