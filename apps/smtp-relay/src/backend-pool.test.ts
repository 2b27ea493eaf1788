import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { createBackendSlots, type SlotGrant } from './backend-pool.ts';

const ip = (text: string) => parseIpAddress(text) as IpAddress;

function granted(grant: SlotGrant): { release(): void } {
  assert.ok(grant.granted, `refused: ${grant.granted ? '' : grant.limit}`);
  return grant;
}

describe('backend slots', () => {
  test('one client gets its share of a host; other clients get the rest, up to the host limit', () => {
    const slots = createBackendSlots({ perHost: 4, perClientHost: 2, ipv6Prefix: 64 });
    const hog = ip('203.0.113.7');
    const held = [granted(slots.acquire('alice', hog)), granted(slots.acquire('alice', hog))];
    assert.deepEqual(slots.acquire('alice', hog), { granted: false, limit: 'client-host' });
    granted(slots.acquire('bob', hog));
    granted(slots.acquire('alice', ip('203.0.113.8')));
    granted(slots.acquire('alice', ip('203.0.113.9')));
    assert.deepEqual(slots.acquire('alice', ip('198.51.100.1')), { granted: false, limit: 'host' });
    // A full host is congestion, whoever holds it.
    assert.deepEqual(slots.acquire('alice', hog), { granted: false, limit: 'host' });
    held[0]?.release();
    held[0]?.release();
    granted(slots.acquire('alice', ip('198.51.100.1')));
    assert.deepEqual(
      slots.acquire('alice', hog),
      { granted: false, limit: 'host' },
      'released once, not twice',
    );
    held[1]?.release();
    granted(slots.acquire('alice', hog));
    assert.deepEqual(slots.acquire('alice', hog), { granted: false, limit: 'host' });
  });

  test('IPv6 clients share one allowance per prefix', () => {
    const slots = createBackendSlots({ perHost: 10, perClientHost: 1, ipv6Prefix: 64 });
    granted(slots.acquire('alice', ip('2001:db8:1:2::1')));
    assert.deepEqual(slots.acquire('alice', ip('2001:db8:1:2:ffff::9')), {
      granted: false,
      limit: 'client-host',
    });
    granted(slots.acquire('alice', ip('2001:db8:1:3::1')));
    const wide = createBackendSlots({ perHost: 10, perClientHost: 1, ipv6Prefix: 48 });
    granted(wide.acquire('alice', ip('2001:db8:1:2::1')));
    assert.deepEqual(wide.acquire('alice', ip('2001:db8:1:3::1')), { granted: false, limit: 'client-host' });
  });
});
