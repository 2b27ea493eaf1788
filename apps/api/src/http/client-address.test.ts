import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Cidr, parseCidr } from '@mydns/domain';
import { resolveClientAddress } from './client-address.ts';

function cidrs(...texts: string[]): Cidr[] {
  return texts.map((text) => {
    const cidr = parseCidr(text);
    if (!cidr) throw new Error(`test setup: ${text} is not a CIDR`);
    return cidr;
  });
}

const PROXIES = cidrs('10.0.0.0/8', '::1', 'fd00::/8');

interface Case {
  readonly name: string;
  readonly peer: string | undefined;
  readonly forwardedFor?: string | string[];
  readonly trusted: readonly Cidr[];
  /** Canonical text of the resolved address, or undefined. */
  readonly client: string | undefined;
}

const cases: readonly Case[] = [
  { name: 'no peer', peer: undefined, trusted: [], client: undefined },
  { name: 'a peer that does not parse', peer: 'not-an-address', trusted: PROXIES, client: undefined },
  { name: 'the peer, IPv4', peer: '198.51.100.4', trusted: [], client: '198.51.100.4' },
  { name: 'the peer, IPv6, canonicalised', peer: '2001:DB8:0:0::1', trusted: [], client: '2001:db8::1' },
  {
    name: 'a dual-stack socket IPv4-mapped peer is IPv4',
    peer: '::ffff:198.51.100.4',
    trusted: [],
    client: '198.51.100.4',
  },
  {
    name: 'no trusted proxies (the default): X-Forwarded-For is ignored',
    peer: '10.0.0.5',
    forwardedFor: '198.51.100.4',
    trusted: [],
    client: '10.0.0.5',
  },
  {
    name: 'an untrusted peer: its X-Forwarded-For is ignored',
    peer: '203.0.113.9',
    forwardedFor: '198.51.100.4',
    trusted: PROXIES,
    client: '203.0.113.9',
  },
  { name: 'a trusted peer without X-Forwarded-For', peer: '10.0.0.5', trusted: PROXIES, client: '10.0.0.5' },
  {
    name: 'a trusted peer: the X-Forwarded-For entry',
    peer: '10.0.0.5',
    forwardedFor: '198.51.100.4',
    trusted: PROXIES,
    client: '198.51.100.4',
  },
  {
    name: 'a trusted IPv6 peer forwarding an IPv6 client',
    peer: '::1',
    forwardedFor: '2001:db8::7',
    trusted: PROXIES,
    client: '2001:db8::7',
  },
  {
    name: 'a trusted IPv4-mapped peer counts as its IPv4 address',
    peer: '::ffff:10.0.0.5',
    forwardedFor: '198.51.100.4',
    trusted: PROXIES,
    client: '198.51.100.4',
  },
  {
    name: 'a chain: the right-most entry that is not a trusted proxy',
    peer: '10.0.0.5',
    forwardedFor: '203.0.113.66, 198.51.100.4, 10.0.0.9, fd00::3',
    trusted: PROXIES,
    client: '198.51.100.4',
  },
  {
    name: 'a client-supplied entry left of the real one is not believed',
    peer: '10.0.0.5',
    forwardedFor: '1.2.3.4,198.51.100.4',
    trusted: PROXIES,
    client: '198.51.100.4',
  },
  {
    name: 'several X-Forwarded-For headers are one list',
    peer: '10.0.0.5',
    forwardedFor: ['203.0.113.66', '198.51.100.4, 10.0.0.9'],
    trusted: PROXIES,
    client: '198.51.100.4',
  },
  {
    name: 'an entry spelled with upper case and brackets is canonicalised',
    peer: '10.0.0.5',
    forwardedFor: '[2001:DB8::7]',
    trusted: PROXIES,
    client: '2001:db8::7',
  },
  {
    name: 'an IPv4-mapped entry is IPv4',
    peer: '10.0.0.5',
    forwardedFor: '::ffff:198.51.100.4',
    trusted: PROXIES,
    client: '198.51.100.4',
  },
  {
    name: 'every hop a trusted proxy: the direct peer',
    peer: '10.0.0.5',
    forwardedFor: '10.1.1.1, 10.2.2.2',
    trusted: PROXIES,
    client: '10.0.0.5',
  },
  {
    name: 'a garbage hop next to the proxy: believe nothing beyond it',
    peer: '10.0.0.5',
    forwardedFor: '198.51.100.4, unknown',
    trusted: PROXIES,
    client: '10.0.0.5',
  },
  {
    name: 'a garbage hop behind a trusted hop: still the direct peer',
    peer: '10.0.0.5',
    forwardedFor: '198.51.100.4, bogus, 10.0.0.9',
    trusted: PROXIES,
    client: '10.0.0.5',
  },
  {
    name: 'an empty hop is garbage',
    peer: '10.0.0.5',
    forwardedFor: '198.51.100.4,,10.0.0.9',
    trusted: PROXIES,
    client: '10.0.0.5',
  },
  {
    name: 'an empty header is garbage',
    peer: '10.0.0.5',
    forwardedFor: '',
    trusted: PROXIES,
    client: '10.0.0.5',
  },
  {
    name: 'garbage left of the answer is never read',
    peer: '10.0.0.5',
    forwardedFor: '<script>, 198.51.100.4',
    trusted: PROXIES,
    client: '198.51.100.4',
  },
];

describe('resolveClientAddress', () => {
  for (const row of cases) {
    test(row.name, () => {
      const address = resolveClientAddress(row.peer, row.forwardedFor, row.trusted);
      assert.equal(address?.text, row.client);
    });
  }

  test('the family follows the address', () => {
    assert.equal(resolveClientAddress('::ffff:198.51.100.4', undefined, [])?.family, 4);
    assert.equal(resolveClientAddress('10.0.0.5', '2001:db8::7', PROXIES)?.family, 6);
  });
});
