import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { createTargetPolicy } from './target-policy.ts';

const ip = (text: string) => parseIpAddress(text) as IpAddress;
const own = [ip('198.51.100.25'), ip('2001:db8::25')];

describe('target policy: where the relay may connect', () => {
  const strict = createTargetPolicy({ ownAddresses: own, ownPort: 25, allowPrivate: false });
  const lab = createTargetPolicy({ ownAddresses: [ip('127.0.0.1')], ownPort: 2525, allowPrivate: true });
  test('public addresses on mail ports', () => {
    for (const port of [25, 587, 2525, 10025])
      assert.deepEqual(strict.check(ip('8.8.8.8'), port), { allowed: true });
    assert.deepEqual(strict.check(ip('2a00:1450:4001::1'), 2526), { allowed: true });
  });
  test('special-purpose ranges and their IPv6 disguises', () => {
    for (const text of [
      '127.0.0.1',
      '10.0.0.1',
      '::ffff:10.0.0.1',
      '64:ff9b::a00:1',
      '2002:a00:1::1',
      '::1',
      'fe80::1',
      '169.254.169.254',
    ]) {
      const check = strict.check(ip(text), 2525);
      assert.equal(check.allowed, false, text);
    }
  });
  test('our own addresses (a loop)', () => {
    const check = strict.check(ip('198.51.100.25'), 2525);
    assert.deepEqual(check, { allowed: false, reason: "198.51.100.25 is the relay's own address" });
    assert.equal(strict.check(ip('2001:db8::25'), 25).allowed, false);
  });
  test('denied ports', () => {
    for (const port of [22, 80, 443, 3306, 5432, 6379, 11211]) {
      assert.deepEqual(strict.check(ip('8.8.8.8'), port), {
        allowed: false,
        reason: `port ${port} is not a mail port we connect to`,
      });
    }
  });
  test('MYDNS_RELAY_ALLOW_PRIVATE_TARGETS: loopback allowed, but not the relay itself, and ports still denied', () => {
    assert.deepEqual(lab.check(ip('127.0.0.1'), 2526), { allowed: true });
    assert.deepEqual(lab.check(ip('10.1.2.3'), 2526), { allowed: true });
    assert.equal(lab.check(ip('127.0.0.1'), 2525).allowed, false);
    assert.equal(lab.check(ip('127.0.0.2'), 2525).allowed, false);
    assert.equal(lab.check(ip('127.0.0.1'), 5432).allowed, false);
  });
});
