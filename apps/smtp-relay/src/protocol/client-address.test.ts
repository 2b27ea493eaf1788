import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { encodeXtext, formatXclient, proxyV1Header, proxyV2Header } from './client-address.ts';

const ip = (text: string) => parseIpAddress(text) as IpAddress;
const ALL = new Set(['NAME', 'ADDR', 'PORT', 'PROTO', 'HELO', 'LOGIN']);

describe('XCLIENT', () => {
  test('xtext escapes +, = and anything outside ! .. ~', () => {
    assert.equal(encodeXtext('client.example'), 'client.example');
    assert.equal(encodeXtext('a+b=c d'), 'a+2Bb+3Dc+20d');
    assert.equal(encodeXtext('\u00e9'), '+E9');
  });
  test('IPv4 client, every attribute offered: HELO and PROTO first, ADDR last', () => {
    const line = formatXclient(
      { client: { address: ip('203.0.113.7'), port: 40000 }, helo: 'mta.example', esmtp: true },
      ALL,
    );
    assert.equal(line, 'XCLIENT PROTO=ESMTP HELO=mta.example NAME=[UNAVAILABLE] PORT=40000 ADDR=203.0.113.7');
  });
  test('IPv6 client gets the IPV6: prefix', () => {
    const line = formatXclient(
      { client: { address: ip('2001:db8::7'), port: 25 }, helo: undefined, esmtp: false },
      ALL,
    );
    assert.equal(line, 'XCLIENT PROTO=SMTP NAME=[UNAVAILABLE] PORT=25 ADDR=IPV6:2001:db8::7');
  });
  test('only what the server advertised (smtp-sink offers NAME and HELO)', () => {
    const line = formatXclient(
      { client: { address: ip('203.0.113.7'), port: 1 }, helo: 'mta.example', esmtp: true },
      new Set(['NAME', 'HELO']),
    );
    assert.equal(line, 'XCLIENT HELO=mta.example NAME=[UNAVAILABLE]');
    assert.equal(
      formatXclient(
        { client: { address: ip('203.0.113.7'), port: 1 }, helo: 'x', esmtp: true },
        new Set(['LOGIN']),
      ),
      undefined,
    );
  });
  test('a HELO that would make the line too long is left out', () => {
    const line = formatXclient(
      { client: { address: ip('203.0.113.7'), port: 1 }, helo: '+'.repeat(200), esmtp: true },
      ALL,
    );
    assert.equal(line, 'XCLIENT PROTO=ESMTP NAME=[UNAVAILABLE] PORT=1 ADDR=203.0.113.7');
  });
});

describe('PROXY protocol', () => {
  const v4 = { address: ip('203.0.113.7'), port: 40000 };
  const v4dst = { address: ip('198.51.100.1'), port: 25 };
  const v6 = { address: ip('2001:db8::7'), port: 40000 };
  const v6dst = { address: ip('2001:db8::1'), port: 25 };
  test('v1 text lines', () => {
    assert.equal(proxyV1Header(v4, v4dst).toString(), 'PROXY TCP4 203.0.113.7 198.51.100.1 40000 25\r\n');
    assert.equal(proxyV1Header(v6, v6dst).toString(), 'PROXY TCP6 2001:db8::7 2001:db8::1 40000 25\r\n');
    // An IPv4 client reaching an IPv6 listener: the destination is the unspecified address of its family.
    assert.equal(proxyV1Header(v4, v6dst).toString(), 'PROXY TCP4 203.0.113.7 0.0.0.0 40000 25\r\n');
  });
  test('v2 IPv4 header, byte by byte', () => {
    assert.equal(
      proxyV2Header(v4, v4dst).toString('hex'),
      [
        '0d0a0d0a000d0a515549540a', // signature
        '21', // version 2, PROXY
        '11', // TCP over IPv4
        '000c', // 12 address bytes
        'cb007107', // 203.0.113.7
        'c6336401', // 198.51.100.1
        '9c40', // 40000
        '0019', // 25
      ].join(''),
    );
  });
  test('v2 IPv6 header', () => {
    const header = proxyV2Header(v6, v6dst);
    assert.equal(header.length, 16 + 36);
    assert.equal(header.subarray(12, 16).toString('hex'), '21210024');
    assert.equal(header.subarray(16, 32).toString('hex'), '20010db8000000000000000000000007');
    assert.equal(header.subarray(32, 48).toString('hex'), '20010db8000000000000000000000001');
    assert.equal(header.readUInt16BE(48), 40000);
    assert.equal(header.readUInt16BE(50), 25);
  });
});
