import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type IpAddress, parseIpAddress } from '@mydns/domain';
import { formatMailDate, formatReceived } from './received.ts';

const date = new Date(Date.UTC(2026, 10, 27, 8, 5, 9));

test('RFC 5322 date in UTC', () => {
  assert.equal(formatMailDate(date), 'Fri, 27 Nov 2026 08:05:09 +0000');
});

test('Received header: plain ESMTP from IPv4', () => {
  const header = formatReceived({
    helo: 'mta.example',
    client: parseIpAddress('203.0.113.7') as IpAddress,
    hostname: 'mx.example-dyn.test',
    esmtp: true,
    tls: undefined,
    id: 'abc123',
    date,
  });
  assert.equal(
    header,
    'Received: from mta.example (unknown [203.0.113.7])\r\n\tby mx.example-dyn.test (MyDNS relay) with ESMTP id abc123;\r\n\tFri, 27 Nov 2026 08:05:09 +0000\r\n',
  );
});

test('Received header: TLS, IPv6, and a HELO that cannot go into a header', () => {
  const header = formatReceived({
    helo: 'evil (comment)',
    client: parseIpAddress('2001:db8::7') as IpAddress,
    hostname: 'mx.example-dyn.test',
    esmtp: true,
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
    id: 'x',
    date,
  });
  assert.equal(
    header,
    'Received: from unknown (unknown [IPv6:2001:db8::7])\r\n\tby mx.example-dyn.test (MyDNS relay) with ESMTPS id x\r\n\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384);\r\n\tFri, 27 Nov 2026 08:05:09 +0000\r\n',
  );
});
