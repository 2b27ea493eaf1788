import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkOwnerRecords, txtContent } from './owner-records.ts';

const HOST = 'alice.dyn.example.net';
const check = (records: unknown) => checkOwnerRecords(records, { hostname: HOST, defaultTtl: 60 });

describe('checkOwnerRecords: accepted, in canonical form', () => {
  const cases: readonly [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['TXT at the host', { subname: '', type: 'txt', content: 'v=spf1 -all' }, { content: 'v=spf1 -all' }],
    [
      'MX, target made absolute',
      { subname: '', type: 'MX', content: '10  Mail.Example.org' },
      { content: '10 mail.example.org.' },
    ],
    ['null MX', { subname: '', type: 'MX', content: '0 .' }, { content: '0 .' }],
    [
      'SRV',
      { subname: '_sip._udp', type: 'SRV', content: '10 5 5060 sip.example.org.' },
      { subname: '_sip._udp' },
    ],
    [
      'CAA, tag lower-cased, value quoted',
      { subname: '', type: 'CAA', content: '0 ISSUE letsencrypt.org' },
      { content: '0 issue "letsencrypt.org"' },
    ],
    [
      'CNAME at a subname',
      { subname: 'WWW', type: 'CNAME', content: 'alice.dyn.example.net' },
      { subname: 'www', content: 'alice.dyn.example.net.' },
    ],
    ['A at a subname', { subname: 'nas', type: 'A', content: '192.0.2.10' }, { content: '192.0.2.10' }],
    ['A following the host', { subname: 'vpn', type: 'A', content: '@' }, { content: '@' }],
    [
      'AAAA address, canonical',
      { subname: 'nas', type: 'AAAA', content: '2001:0DB8::0001' },
      { content: '2001:db8::1' },
    ],
    [
      'AAAA interface identifier',
      { subname: 'nas', type: 'AAAA', content: '::211:22FF:FE33:4455' },
      { content: '::211:22ff:fe33:4455' },
    ],
    ['own ttl', { subname: 'x', type: 'TXT', content: 'hi', ttl: 3600 }, { ttl: 3600 }],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      const result = check([input]);
      assert.ok(result.ok, result.ok ? '' : result.message);
      assert.deepEqual({ ...result.records[0], ...expected }, result.records[0]);
    });
  }
});

describe('checkOwnerRecords: refused, naming the record', () => {
  const ok = { subname: 'www', type: 'TXT', content: 'fine' };
  const cases: readonly [string, unknown, RegExp][] = [
    ['not a list', { subname: '' }, /must be a list/],
    [
      '51 records',
      Array.from({ length: 51 }, (_, i) => ({ subname: `n${i}`, type: 'TXT', content: 'x' })),
      /at most 50/,
    ],
    [
      'unknown type',
      [ok, { subname: 'a', type: 'NS', content: 'ns.example.' }],
      /^records\[1\] \(NS a\): type must be/,
    ],
    [
      'A at the host',
      [{ subname: '', type: 'A', content: '192.0.2.1' }],
      /^records\[0\] \(A @\): the host’s own address/,
    ],
    ['CNAME at the host', [{ subname: '', type: 'CNAME', content: 'x.example.' }], /CNAME only at a subname/],
    [
      'CNAME beside other data',
      [ok, { subname: 'www', type: 'CNAME', content: 'x.example.' }],
      /^records\[1\] \(CNAME www\): a CNAME must be alone/,
    ],
    [
      'data beside a CNAME',
      [{ subname: 'www', type: 'CNAME', content: 'x.example.' }, ok],
      /^records\[1\] \(TXT www\): www has a CNAME/,
    ],
    ['_acme-challenge', [{ subname: '_acme-challenge', type: 'TXT', content: 'x' }], /ACME endpoint/],
    ['a wildcard subname', [{ subname: '*', type: 'A', content: '192.0.2.1' }], /wildcard is a setting/],
    ['a bad subname', [{ subname: 'a..b', type: 'TXT', content: 'x' }], /subname: labels/],
    ['a bad IPv4', [{ subname: 'a', type: 'A', content: '192.0.2.256' }], /IPv4 address/],
    ['an IPv6 in A', [{ subname: 'a', type: 'A', content: '2001:db8::1' }], /IPv4 address/],
    ['a prefix in AAAA', [{ subname: 'a', type: 'AAAA', content: '2001:db8::/64' }], /IPv6 address/],
    ['MX without target', [{ subname: '', type: 'MX', content: '10' }], /preference and a mail server/],
    [
      'SRV port too big',
      [{ subname: '_x._tcp', type: 'SRV', content: '1 1 70000 a.example.' }],
      /priority, weight, port/,
    ],
    ['CAA flags too big', [{ subname: '', type: 'CAA', content: '256 issue "x"' }], /flags, tag and value/],
    ['TXT too long', [{ subname: 'a', type: 'TXT', content: 'x'.repeat(2049) }], /1 to 2048/],
    ['TXT not ASCII', [{ subname: 'a', type: 'TXT', content: 'héllo' }], /printable ASCII/],
    ['ttl too small', [{ subname: 'a', type: 'TXT', content: 'x', ttl: 5 }], /ttl must be/],
    [
      'two ttls in one rrset',
      [
        { subname: 'a', type: 'TXT', content: 'x' },
        { subname: 'a', type: 'TXT', content: 'y', ttl: 120 },
      ],
      /share one ttl/,
    ],
    ['a duplicate', [ok, ok], /the same record twice/],
    ['an unknown field', [{ ...ok, prio: 1 }], /unknown fields: prio/],
  ];
  for (const [name, input, expected] of cases) {
    test(name, () => {
      const result = check(input);
      assert.equal(result.ok, false);
      assert.match(result.ok ? '' : result.message, expected);
    });
  }
});

test('txtContent: quoted, escaped, split at 255 characters', () => {
  assert.equal(txtContent('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
  const long = txtContent('a'.repeat(300));
  assert.equal(long, `"${'a'.repeat(255)}" "${'a'.repeat(45)}"`);
});
