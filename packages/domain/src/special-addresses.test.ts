import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type IpAddress, parseIpAddress } from './ip-address.ts';
import { embeddedIPv4, specialAddressReason } from './special-addresses.ts';

function ip(text: string): IpAddress {
  const address = parseIpAddress(text);
  if (!address) throw new Error(`test setup: ${text} is not an IP address`);
  return address;
}

describe('embeddedIPv4', () => {
  const cases: readonly { input: string; form?: string; inner?: string }[] = [
    { input: '64:ff9b::a00:1', form: 'nat64', inner: '10.0.0.1' },
    { input: '64:ff9b::192.0.2.33', form: 'nat64', inner: '192.0.2.33' },
    { input: '64:ff9b:1::7f00:1', form: 'nat64-local', inner: '127.0.0.1' },
    { input: '2002:c0a8:101::1', form: '6to4', inner: '192.168.1.1' },
    { input: '2002:cb00:7107::', form: '6to4', inner: '203.0.113.7' },
    // Teredo: server 65.54.227.120, client 192.0.2.45 stored inverted (3f ff fd d2).
    { input: '2001:0:4136:e378:8000:63bf:3fff:fdd2', form: 'teredo', inner: '192.0.2.45' },
    { input: '::10.0.0.1', form: 'ipv4-compatible', inner: '10.0.0.1' },
    { input: '::1' },
    { input: '::' },
    { input: '2001:db8::1' },
    { input: '2a00:1450::1' },
    { input: '203.0.113.7' },
  ];
  for (const row of cases) {
    test(row.input, () => {
      const found = embeddedIPv4(ip(row.input));
      assert.equal(found?.form, row.form);
      assert.equal(found?.address.text, row.inner);
    });
  }
});

describe('specialAddressReason: what a relay must not connect to', () => {
  const blocked = [
    '127.0.0.1',
    '10.0.0.1',
    '172.16.5.4',
    '192.168.1.1',
    '100.64.0.1',
    '169.254.1.1',
    '0.0.0.0',
    '224.0.0.1',
    '255.255.255.255',
    '198.18.0.1',
    '::1',
    '::',
    '::ffff:10.0.0.1',
    'fe80::1',
    'fc00::1',
    'ff02::1',
    '64:ff9b::a00:1',
    '64:ff9b::808:808',
    '2002:c0a8:101::1',
    '2001:db8::1',
    '2001:0:4136:e378:8000:63bf:3fff:fdd2',
  ];
  for (const text of blocked) {
    test(`${text} is refused`, () => assert.ok(specialAddressReason(ip(text)), text));
  }
  for (const text of ['8.8.8.8', '1.1.1.1', '2a00:1450:4001::1', '2606:4700::1111']) {
    test(`${text} is allowed`, () => assert.equal(specialAddressReason(ip(text)), undefined));
  }
  test('the reason names the embedded address', () => {
    assert.equal(specialAddressReason(ip('64:ff9b::a00:1')), 'nat64 form of special-purpose 10.0.0.1');
    assert.equal(specialAddressReason(ip('64:ff9b::808:808')), 'nat64 form of public 8.8.8.8');
    assert.equal(specialAddressReason(ip('10.0.0.1')), 'special-purpose');
  });
});
