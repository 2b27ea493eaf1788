import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { clientKey, createClientLimits } from './client-limits.ts';

const ip = (text: string) => parseIpAddress(text) as IpAddress;

test('IPv6 clients count per /64', () => {
  assert.equal(clientKey(ip('2001:db8:1:2::1')), clientKey(ip('2001:db8:1:2:ffff::9')));
  assert.notEqual(clientKey(ip('2001:db8:1:2::1')), clientKey(ip('2001:db8:1:3::1')));
  assert.equal(clientKey(ip('203.0.113.7')), '203.0.113.7');
  assert.equal(clientKey(ip('::ffff:203.0.113.7')), '203.0.113.7', 'IPv4-mapped is the IPv4 client');
});

test('IPv6 clients count per the prefix set (MYDNS_RELAY_CLIENT_IPV6_PREFIX)', () => {
  const same = (a: string, b: string, prefix: number) =>
    clientKey(ip(a), prefix) === clientKey(ip(b), prefix);
  for (const [a, b, prefix, expected] of [
    ['2001:db8:1:2::1', '2001:db8:1:2:ffff::9', 64, true],
    ['2001:db8:1:2::1', '2001:db8:1:3::1', 64, false],
    ['2001:db8:1:2::1', '2001:db8:1:3::1', 56, true],
    ['2001:db8:1:2::1', '2001:db8:1:ff::1', 56, true],
    ['2001:db8:1:2::1', '2001:db8:1:100::1', 56, false],
    ['2001:db8:1:0::1', '2001:db8:1:f::1', 60, true],
    ['2001:db8:1:0::1', '2001:db8:1:10::1', 60, false],
    ['2001:db8::1', '2001:db8::1', 128, true],
    ['2001:db8::1', '2001:db8::2', 128, false],
    ['2001:db8::2', '2001:db8::3', 127, true],
    ['2001:db8:ffff::1', '2001:db8:0:1::1', 32, true],
  ] as const) {
    assert.equal(same(a, b, prefix), expected, `${a} and ${b} in one /${prefix}`);
  }
  assert.equal(clientKey(ip('2001:db8:1:2:ffff::9'), 56), '2001:db8:1::/56');
  assert.equal(clientKey(ip('203.0.113.7'), 32), '203.0.113.7', 'IPv4 clients are always one address');
});

test('the IPv6 prefix applies to the session limits too', () => {
  const limits = createClientLimits({
    concurrent: 1,
    rate: { count: 100, windowMs: 60_000 },
    ipv6Prefix: 48,
  });
  assert.equal(limits.admit(ip('2001:db8:1:2::1')), 'ok');
  assert.equal(limits.admit(ip('2001:db8:1:ffff::1')), 'too-many-concurrent', 'the same /48');
  assert.equal(limits.admit(ip('2001:db8:2::1')), 'ok', 'another /48');
});

test('concurrent sessions and sessions per window', () => {
  let now = 0;
  const limits = createClientLimits({ concurrent: 2, rate: { count: 3, windowMs: 60_000 }, now: () => now });
  const a = ip('203.0.113.7');
  assert.equal(limits.admit(a), 'ok');
  assert.equal(limits.admit(a), 'ok');
  assert.equal(limits.admit(a), 'too-many-concurrent');
  assert.equal(limits.admit(ip('203.0.113.8')), 'ok', 'another client is not affected');
  limits.release(a);
  assert.equal(limits.admit(a), 'ok');
  limits.release(a);
  limits.release(a);
  assert.equal(limits.admit(a), 'too-many-per-window');
  now += 60_001;
  assert.equal(limits.admit(a), 'ok');
});
