import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExportLine } from './client.ts';

/** Lines of GET /zones/{zone}/export as PowerDNS 4.7 writes them (seen in test/integration/reconcile.test.ts). */
test('zone export lines: owner, TTL, type and the content as the JSON API gives it', () => {
  const table: [string, ReturnType<typeof parseExportLine>][] = [
    ['h1.p.test.\t60\tIN\tA\t10.255.0.1', { name: 'h1.p.test.', type: 'A', ttl: 60, content: '10.255.0.1' }],
    [
      '_acme-challenge.h1.p.test.\t60\tIN\tTXT\t"a b \\"c"',
      { name: '_acme-challenge.h1.p.test.', type: 'TXT', ttl: 60, content: '"a b \\"c"' },
    ],
    [
      'h1.p.test.\t60\tIN\tMX\t10 h1.mx.p.test.',
      { name: 'h1.p.test.', type: 'MX', ttl: 60, content: '10 h1.mx.p.test.' },
    ],
    [
      'p.test.\t300\tIN\tSOA\tns1.p.test. hostmaster.p.test. 3 10800 3600 604800 60',
      {
        name: 'p.test.',
        type: 'SOA',
        ttl: 300,
        content: 'ns1.p.test. hostmaster.p.test. 3 10800 3600 604800 60',
      },
    ],
    ['', undefined],
    ['not a record', undefined],
  ];
  for (const [line, want] of table) assert.deepEqual(parseExportLine(line), want, line);
});
