import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cidrContains, type IpAddress, isPublicAddress, parseCidr, parseIpAddress } from './ip-address.ts';

function ip(text: string): IpAddress {
  const address = parseIpAddress(text);
  if (!address) throw new Error(`test setup: ${text} is not an IP address`);
  return address;
}

describe('parseIpAddress: spellings and their canonical text', () => {
  const cases: readonly { name: string; input: string; family: 4 | 6; text: string }[] = [
    { name: 'dotted quad', input: '203.0.113.7', family: 4, text: '203.0.113.7' },
    { name: 'zeros and 255 in a dotted quad', input: '0.0.0.0', family: 4, text: '0.0.0.0' },
    { name: 'the top IPv4 address', input: '255.255.255.255', family: 4, text: '255.255.255.255' },
    { name: 'surrounding blanks', input: '  203.0.113.7 ', family: 4, text: '203.0.113.7' },
    { name: 'already canonical IPv6', input: '2001:db8::1', family: 6, text: '2001:db8::1' },
    { name: 'unspecified', input: '::', family: 6, text: '::' },
    { name: 'loopback', input: '::1', family: 6, text: '::1' },
    { name: 'trailing zeros', input: '2001:db8::', family: 6, text: '2001:db8::' },
    {
      name: 'fully zero-padded (OpenWrt [IP])',
      input: '2001:0db8:0000:0000:0000:0000:0000:0001',
      family: 6,
      text: '2001:db8::1',
    },
    { name: 'upper case is lowered', input: '2001:DB8::ABCD', family: 6, text: '2001:db8::abcd' },
    {
      name: 'upper case, zero-padded',
      input: '2001:0DB8:0000:0000:0000:0000:0000:00FF',
      family: 6,
      text: '2001:db8::ff',
    },
    {
      name: 'leading zeros inside groups dropped',
      input: '2001:0db8:0001::000a',
      family: 6,
      text: '2001:db8:1::a',
    },
    {
      name: 'the longest zero run is compressed',
      input: '2001:db8:0:0:1:0:0:0',
      family: 6,
      text: '2001:db8:0:0:1::',
    },
    {
      name: 'the longest zero run, not the first',
      input: '2001:0:0:1:0:0:0:1',
      family: 6,
      text: '2001:0:0:1::1',
    },
    {
      name: 'equal zero runs: the first is compressed',
      input: '2001:db8:0:0:1:0:0:1',
      family: 6,
      text: '2001:db8::1:0:0:1',
    },
    {
      name: 'a single zero group is not compressed',
      input: '2001:db8:0:1:1:1:1:1',
      family: 6,
      text: '2001:db8:0:1:1:1:1:1',
    },
    {
      name: 'a single zero group is expanded when sent as ::',
      input: '2001:db8::1:1:1:1:1',
      family: 6,
      text: '2001:db8:0:1:1:1:1:1',
    },
    {
      name: ':: standing for one group at the end',
      input: '1:2:3:4:5:6:7::',
      family: 6,
      text: '1:2:3:4:5:6:7:0',
    },
    { name: 'no zero group at all', input: '1:2:3:4:5:6:7:8', family: 6, text: '1:2:3:4:5:6:7:8' },
    { name: 'all zeros written out', input: '0:0:0:0:0:0:0:0', family: 6, text: '::' },
    {
      name: 'embedded IPv4 tail after ::',
      input: '2001:db8::192.0.2.33',
      family: 6,
      text: '2001:db8::c000:221',
    },
    {
      name: 'embedded IPv4 tail in a full address',
      input: '1:2:3:4:5:6:192.0.2.33',
      family: 6,
      text: '1:2:3:4:5:6:c000:221',
    },
    { name: 'IPv4-compatible (deprecated) stays IPv6', input: '::1.2.3.4', family: 6, text: '::102:304' },
    { name: 'IPv4-mapped is IPv4', input: '::ffff:1.2.3.4', family: 4, text: '1.2.3.4' },
    { name: 'IPv4-mapped, upper case', input: '::FFFF:203.0.113.7', family: 4, text: '203.0.113.7' },
    { name: 'IPv4-mapped in hex', input: '::ffff:cb00:7107', family: 4, text: '203.0.113.7' },
    { name: 'IPv4-mapped written out', input: '0:0:0:0:0:ffff:1.2.3.4', family: 4, text: '1.2.3.4' },
    { name: 'IPv4-mapped bracketed', input: '[::ffff:1.2.3.4]', family: 4, text: '1.2.3.4' },
    {
      name: 'not mapped: ffff in another position',
      input: '::ffff:0:1.2.3.4',
      family: 6,
      text: '::ffff:0:102:304',
    },
    { name: 'brackets', input: '[2001:db8::1]', family: 6, text: '2001:db8::1' },
    { name: 'brackets with a length', input: '[2001:db8::1]/64', family: 6, text: '2001:db8::1' },
    {
      name: 'brackets with a length, upper case',
      input: '[2001:DB8:1:2::]/56',
      family: 6,
      text: '2001:db8:1:2::',
    },
    {
      name: 'Fritz!Box <ip6lanprefix> with /64',
      input: '2001:db8:1:2::/64',
      family: 6,
      text: '2001:db8:1:2::',
    },
    { name: 'IPv6 /128', input: '2001:db8::1/128', family: 6, text: '2001:db8::1' },
    { name: 'IPv6 /0', input: '2001:db8::1/0', family: 6, text: '2001:db8::1' },
    { name: 'IPv4 /24', input: '203.0.113.7/24', family: 4, text: '203.0.113.7' },
    { name: 'IPv4 /32', input: '203.0.113.7/32', family: 4, text: '203.0.113.7' },
  ];
  for (const row of cases) {
    test(`${row.name}: ${row.input}`, () => {
      const address = parseIpAddress(row.input);
      assert.deepEqual(address && { family: address.family, text: address.text }, {
        family: row.family,
        text: row.text,
      });
    });
  }

  test('bytes are network order: 4 for IPv4 (also when mapped), 16 for IPv6', () => {
    assert.deepEqual([...ip('203.0.113.7').bytes], [203, 0, 113, 7]);
    assert.deepEqual([...ip('::ffff:203.0.113.7').bytes], [203, 0, 113, 7]);
    assert.deepEqual(
      [...ip('2001:db8::1:ff').bytes],
      [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff],
    );
  });
});

describe('parseIpAddress: rejected spellings', () => {
  const cases: readonly { name: string; input: string }[] = [
    { name: 'empty', input: '' },
    { name: 'blank', input: '   ' },
    { name: 'a name', input: 'router.example' },
    { name: 'three octets', input: '203.0.113' },
    { name: 'five octets', input: '203.0.113.7.1' },
    { name: 'octet over 255', input: '203.0.113.256' },
    { name: 'leading zero in an octet', input: '203.0.113.07' },
    { name: 'leading zeros in the first octet', input: '010.0.0.1' },
    { name: 'negative octet', input: '203.0.-1.7' },
    { name: 'empty octet', input: '203..113.7' },
    { name: 'hex octet', input: '0xcb.0.113.7' },
    { name: 'nine groups', input: '1:2:3:4:5:6:7:8:9' },
    { name: 'seven groups without ::', input: '1:2:3:4:5:6:7' },
    { name: ':: with eight groups', input: '1:2:3:4:5:6:7:8::' },
    { name: ':: inside eight groups', input: '1:2:3:4::5:6:7:8' },
    { name: 'two ::', input: '2001::db8::1' },
    { name: ':::', input: ':::' },
    { name: 'a single leading colon', input: ':1:2:3:4:5:6:7' },
    { name: 'a single trailing colon', input: '1:2:3:4:5:6:7:' },
    { name: 'a group of five hex digits', input: '2001:db8::00001' },
    { name: 'a non-hex digit', input: '2001:db8::g' },
    { name: 'zone id', input: 'fe80::1%eth0' },
    { name: 'zone id, percent-encoded', input: 'fe80::1%25eth0' },
    { name: 'numeric zone id', input: 'fe80::1%2' },
    { name: 'IPv4 tail not at the end', input: '::1.2.3.4:1' },
    { name: 'IPv4 tail with a leading zero', input: '::ffff:1.2.3.04' },
    { name: 'IPv4 tail before ::', input: '1.2.3.4::' },
    { name: 'IPv4 tail leaving too many groups', input: '1:2:3:4:5:6:7:1.2.3.4' },
    { name: 'unbalanced bracket', input: '[2001:db8::1' },
    { name: 'a length inside the brackets and after them', input: '[2001:db8::1/64]/64' },
    { name: 'brackets with an empty length', input: '[2001:db8::1]/' },
    { name: 'IPv6 prefix over 128', input: '2001:db8::/129' },
    { name: 'IPv4 prefix over 32', input: '203.0.113.7/33' },
    { name: 'empty prefix', input: '2001:db8::1/' },
    { name: 'non-numeric prefix', input: '2001:db8::1/ab' },
    { name: 'negative prefix', input: '203.0.113.7/-1' },
    { name: 'IPv4 with a port', input: '203.0.113.7:8080' },
    { name: 'longer than any address', input: `${'0:'.repeat(30)}1` },
  ];
  for (const row of cases) {
    test(`${row.name}: ${JSON.stringify(row.input)}`, () => {
      assert.equal(parseIpAddress(row.input), undefined);
    });
  }
});

describe('isPublicAddress: every listed range, its edges (not public) and just outside (public)', () => {
  const cases: readonly { range: string; notPublic: readonly string[]; public: readonly string[] }[] = [
    { range: '0.0.0.0/8', notPublic: ['0.0.0.0', '0.255.255.255'], public: ['1.0.0.0'] },
    { range: '10.0.0.0/8', notPublic: ['10.0.0.0', '10.255.255.255'], public: ['9.255.255.255', '11.0.0.0'] },
    {
      range: '100.64.0.0/10 (CGNAT)',
      notPublic: ['100.64.0.0', '100.127.255.255'],
      public: ['100.63.255.255', '100.128.0.0'],
    },
    {
      range: '127.0.0.0/8',
      notPublic: ['127.0.0.0', '127.0.0.1', '127.255.255.255'],
      public: ['126.255.255.255', '128.0.0.0'],
    },
    {
      range: '169.254.0.0/16',
      notPublic: ['169.254.0.0', '169.254.255.255'],
      public: ['169.253.255.255', '169.255.0.0'],
    },
    {
      range: '172.16.0.0/12',
      notPublic: ['172.16.0.0', '172.31.255.255'],
      public: ['172.15.255.255', '172.32.0.0'],
    },
    {
      range: '192.0.0.0/24',
      notPublic: ['192.0.0.0', '192.0.0.255'],
      public: ['191.255.255.255', '192.0.1.0'],
    },
    { range: '192.0.2.0/24', notPublic: ['192.0.2.0', '192.0.2.255'], public: ['192.0.1.255', '192.0.3.0'] },
    {
      range: '192.88.99.0/24',
      notPublic: ['192.88.99.0', '192.88.99.255'],
      public: ['192.88.98.255', '192.88.100.0'],
    },
    {
      range: '192.168.0.0/16',
      notPublic: ['192.168.0.0', '192.168.255.255'],
      public: ['192.167.255.255', '192.169.0.0'],
    },
    {
      range: '198.18.0.0/15',
      notPublic: ['198.18.0.0', '198.19.255.255'],
      public: ['198.17.255.255', '198.20.0.0'],
    },
    {
      range: '198.51.100.0/24',
      notPublic: ['198.51.100.0', '198.51.100.255'],
      public: ['198.51.99.255', '198.51.101.0'],
    },
    {
      range: '203.0.113.0/24',
      notPublic: ['203.0.113.0', '203.0.113.255'],
      public: ['203.0.112.255', '203.0.114.0'],
    },
    {
      range: '224.0.0.0/4 and 240.0.0.0/4',
      notPublic: ['224.0.0.0', '255.255.255.255'],
      public: ['223.255.255.255'],
    },
    {
      range: 'below 2000::/3 (global unicast)',
      notPublic: ['1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '::', '::1', '64:ff9b::808:808'],
      public: ['2000::'],
    },
    {
      range: 'above 2000::/3 (global unicast)',
      notPublic: ['4000::', 'fc00::1', 'fdff:ffff::1', 'fe80::1', 'febf:ffff::1', 'ff02::1'],
      public: ['3fff:1000::'],
    },
    {
      range: '2001::/23 (IETF protocol assignments)',
      notPublic: ['2001::', '2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff'],
      public: ['2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:200::'],
    },
    {
      range: '2001:db8::/32 (documentation)',
      notPublic: ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'],
      public: ['2001:db7:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db9::'],
    },
    {
      range: '2002::/16 (6to4)',
      notPublic: ['2002::', '2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      public: ['2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2003::'],
    },
    {
      range: '3fff::/20 (documentation, RFC 9637)',
      notPublic: ['3fff::', '3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff'],
      public: ['3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '3fff:1000::'],
    },
  ];
  for (const row of cases) {
    test(row.range, () => {
      for (const text of row.notPublic)
        assert.equal(isPublicAddress(ip(text)), false, `${text} is not public`);
      for (const text of row.public) assert.equal(isPublicAddress(ip(text)), true, `${text} is public`);
    });
  }

  test('ordinary public addresses, and a mapped one judged as IPv4', () => {
    for (const text of ['8.8.8.8', '93.184.216.34', '2a00:1450:4001:80b::200e', '2606:4700::1111']) {
      assert.equal(isPublicAddress(ip(text)), true, text);
    }
    assert.equal(isPublicAddress(ip('::ffff:8.8.8.8')), true);
    assert.equal(isPublicAddress(ip('::ffff:192.168.1.1')), false);
  });
});

describe('parseCidr', () => {
  const valid: readonly { input: string; prefix: number; text: string }[] = [
    { input: '10.0.0.0/8', prefix: 8, text: '10.0.0.0/8' },
    { input: ' 172.16.0.0/12 ', prefix: 12, text: '172.16.0.0/12' },
    { input: '0.0.0.0/0', prefix: 0, text: '0.0.0.0/0' },
    { input: '2001:DB8:0::/32', prefix: 32, text: '2001:db8::/32' },
    { input: '::/0', prefix: 0, text: '::/0' },
    { input: '192.0.2.10', prefix: 32, text: '192.0.2.10/32' },
    { input: '::1', prefix: 128, text: '::1/128' },
    { input: 'fd00::/8', prefix: 8, text: 'fd00::/8' },
  ];
  for (const row of valid) {
    test(`accepts ${JSON.stringify(row.input)}`, () => {
      const cidr = parseCidr(row.input);
      assert.deepEqual(cidr && { prefix: cidr.prefix, text: cidr.text }, {
        prefix: row.prefix,
        text: row.text,
      });
    });
  }

  for (const input of [
    '',
    'bogus',
    '10.0.0.0/33',
    '2001:db8::/129',
    '10.0.0.0/',
    '10.0.0.0/8/9',
    '10.0.0.0/x',
  ]) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      assert.equal(parseCidr(input), undefined);
    });
  }
});

describe('cidrContains', () => {
  const cases: readonly { cidr: string; inside: readonly string[]; outside: readonly string[] }[] = [
    {
      cidr: '10.0.0.0/8',
      inside: ['10.0.0.0', '10.255.255.255', '::ffff:10.1.2.3'],
      outside: ['9.255.255.255', '11.0.0.0', '::a00:1'],
    },
    {
      cidr: '172.16.0.0/12',
      inside: ['172.16.0.0', '172.31.255.255'],
      outside: ['172.15.255.255', '172.32.0.0'],
    },
    { cidr: '192.0.2.10', inside: ['192.0.2.10'], outside: ['192.0.2.11', '192.0.2.9'] },
    { cidr: '0.0.0.0/0', inside: ['0.0.0.0', '255.255.255.255'], outside: ['::', '2001:db8::1'] },
    {
      cidr: '2001:db8::/32',
      inside: ['2001:db8::', '2001:db8:ffff:ffff:ffff:ffff:ffff:ffff'],
      outside: ['2001:db9::', '2001:db7:ffff::', '32.1.13.184'],
    },
    { cidr: '2001:db8::/127', inside: ['2001:db8::', '2001:db8::1'], outside: ['2001:db8::2'] },
    { cidr: '::1', inside: ['::1'], outside: ['::', '::2', '127.0.0.1'] },
    {
      cidr: '::/0',
      inside: ['::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
      outside: ['0.0.0.0', '1.2.3.4'],
    },
  ];
  for (const row of cases) {
    test(row.cidr, () => {
      const cidr = parseCidr(row.cidr);
      assert.ok(cidr, `${row.cidr} parses`);
      for (const text of row.inside)
        assert.equal(cidrContains(cidr, ip(text)), true, `${text} in ${row.cidr}`);
      for (const text of row.outside)
        assert.equal(cidrContains(cidr, ip(text)), false, `${text} not in ${row.cidr}`);
    });
  }
});
