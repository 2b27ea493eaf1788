import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { HostDnsState } from '@mydns/domain';
import { host } from '../../../test/support/fake-dns-store.ts';
import type { RrsetChange } from './client.ts';
import { hostRrsets, zoneRrsets } from './projection.ts';

/**
 * The host → rrsets projection by table, over every state a host can be in.
 * Every host always owns the same four rrsets (A, AAAA, the ACME TXT and MX),
 * each given in full; `-` means "remove it".
 */

const show = (changes: readonly RrsetChange[]) =>
  changes.map((c) => `${c.type} ${c.name} ${c.ttl} ${c.records.length > 0 ? c.records.join(' ') : '-'}`);

const rows: [string, HostDnsState | undefined, string[]][] = [
  [
    'active with IPv4',
    host('alice', { ipv4: '198.51.100.1' }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with IPv6',
    host('alice', { ipv6: '2001:db8::1' }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 2001:db8::1',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with both',
    host('alice', { ipv4: '198.51.100.1', ipv6: '2001:db8::1' }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 2001:db8::1',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with no address yet',
    host('alice'),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'active with mail forwarding: MX towards the relay',
    host('alice', { ipv4: '198.51.100.1', mailEnabled: true }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 10 alice.mx.dyn.test.',
    ],
  ],
  [
    'active with mail forwarding and no address: the MX still points at the relay',
    host('alice', { mailEnabled: true }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 10 alice.mx.dyn.test.',
    ],
  ],
  [
    'active with ACME values: TXT, sorted',
    host('alice', { ipv4: '198.51.100.1', acme: ['zeta', 'alpha'] }),
    [
      'A alice.dyn.test 60 198.51.100.1',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 alpha zeta',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'dormant: no addresses, no MX',
    host('alice', { ipv4: '198.51.100.1', ipv6: '2001:db8::1', status: 'dormant', mailEnabled: true }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'dormant with ACME values: the TXT stays (renewals come from machines that may not update)',
    host('alice', { ipv4: '198.51.100.1', status: 'dormant', acme: ['token'] }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 token',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'disabled: nothing, not even ACME',
    host('alice', { ipv4: '198.51.100.1', status: 'disabled', acme: ['token'], mailEnabled: true }),
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
  [
    'deleted (no row): everything removed',
    undefined,
    [
      'A alice.dyn.test 60 -',
      'AAAA alice.dyn.test 60 -',
      'TXT _acme-challenge.alice.dyn.test 60 -',
      'MX alice.dyn.test 60 -',
    ],
  ],
];

describe('hostRrsets', () => {
  for (const [name, state, expected] of rows) {
    test(name, () => assert.deepEqual(show(hostRrsets('dyn.test', 'alice', state, 60)), expected));
  }

  test('the TTL given is on every rrset', () => {
    const ttls = hostRrsets('dyn.test', 'alice', host('alice', { ipv4: '198.51.100.1' }), 300).map(
      (c) => c.ttl,
    );
    assert.deepEqual(ttls, [300, 300, 300, 300]);
  });

  test('the ACME values of the row are not reordered in place', () => {
    const acme = ['b', 'a'];
    hostRrsets('dyn.test', 'alice', host('alice', { acme }), 60);
    assert.deepEqual(acme, ['b', 'a']);
  });
});

describe('zoneRrsets: the relay’s names', () => {
  const cases: [string, string[], string[]][] = [
    [
      'IPv4 and IPv6',
      ['192.0.2.25', '2001:db8::25'],
      [
        'A mx.dyn.test 60 192.0.2.25',
        'AAAA mx.dyn.test 60 2001:db8::25',
        'A *.mx.dyn.test 60 192.0.2.25',
        'AAAA *.mx.dyn.test 60 2001:db8::25',
      ],
    ],
    [
      'IPv4 only: the AAAA are removed',
      ['192.0.2.25', '192.0.2.26'],
      [
        'A mx.dyn.test 60 192.0.2.25 192.0.2.26',
        'AAAA mx.dyn.test 60 -',
        'A *.mx.dyn.test 60 192.0.2.25 192.0.2.26',
        'AAAA *.mx.dyn.test 60 -',
      ],
    ],
    [
      'no relay: all removed',
      [],
      ['A mx.dyn.test 60 -', 'AAAA mx.dyn.test 60 -', 'A *.mx.dyn.test 60 -', 'AAAA *.mx.dyn.test 60 -'],
    ],
  ];
  for (const [name, addresses, expected] of cases) {
    test(name, () => assert.deepEqual(show(zoneRrsets('dyn.test', addresses, 60)), expected));
  }
});
