import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { clientKey, createClientLimits } from './client-limits.ts';

const ip = (text: string) => parseIpAddress(text) as IpAddress;

test('IPv6 clients count per /64', () => {
  assert.equal(clientKey(ip('2001:db8:1:2::1')), clientKey(ip('2001:db8:1:2:ffff::9')));
  assert.notEqual(clientKey(ip('2001:db8:1:2::1')), clientKey(ip('2001:db8:1:3::1')));
  assert.equal(clientKey(ip('203.0.113.7')), '203.0.113.7');
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
