import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AccountResultCode, HostResult } from '@mydns/domain';
import { type DyndnsReply, formatDyndnsReply } from './format-reply.ts';

const hosts = (...results: HostResult[]): DyndnsReply => formatDyndnsReply({ kind: 'hosts', results });
const ok = (body: string): DyndnsReply => ({ status: 200, body, challenge: false });

describe('formatDyndnsReply: one line per requested host', () => {
  const cases: readonly { name: string; results: readonly HostResult[]; body: string }[] = [
    {
      name: 'good with an IPv4 address',
      results: [{ code: 'good', addresses: ['203.0.113.7'] }],
      body: 'good 203.0.113.7',
    },
    {
      name: 'nochg with an IPv6 address',
      results: [{ code: 'nochg', addresses: ['2001:db8::1'] }],
      body: 'nochg 2001:db8::1',
    },
    {
      name: 'dual stack: both addresses, comma-separated, as given (v4 first)',
      results: [{ code: 'good', addresses: ['203.0.113.7', '2001:db8::1'] }],
      body: 'good 203.0.113.7,2001:db8::1',
    },
    { name: 'notfqdn', results: [{ code: 'notfqdn' }], body: 'notfqdn' },
    { name: 'nohost', results: [{ code: 'nohost' }], body: 'nohost' },
    { name: 'abuse for one host', results: [{ code: 'abuse' }], body: 'abuse' },
    { name: 'dnserr', results: [{ code: 'dnserr' }], body: 'dnserr' },
    {
      name: 'several hosts, in request order, no trailing newline',
      results: [
        { code: 'good', addresses: ['203.0.113.7'] },
        { code: 'nohost' },
        { code: 'notfqdn' },
        { code: 'nochg', addresses: ['203.0.113.7'] },
        { code: 'dnserr' },
        { code: 'abuse' },
      ],
      body: 'good 203.0.113.7\nnohost\nnotfqdn\nnochg 203.0.113.7\ndnserr\nabuse',
    },
    {
      name: 'the same code for two hosts gives two lines',
      results: [{ code: 'nohost' }, { code: 'nohost' }],
      body: 'nohost\nnohost',
    },
  ];
  for (const row of cases) {
    test(row.name, () => {
      const reply = hosts(...row.results);
      assert.deepEqual(reply, ok(row.body));
      assert.equal(reply.body.split('\n').length, row.results.length, 'one line per host');
      assert.equal(reply.body.endsWith('\n'), false, 'no trailing newline');
    });
  }
});

describe('formatDyndnsReply: account-level codes are one line', () => {
  const cases: readonly { code: AccountResultCode; reply: DyndnsReply }[] = [
    { code: 'badauth', reply: { status: 401, body: 'badauth', challenge: true } },
    { code: 'numhost', reply: ok('numhost') },
    { code: 'abuse', reply: ok('abuse') },
    { code: 'badagent', reply: ok('badagent') },
    { code: '911', reply: { status: 500, body: '911', challenge: false } },
  ];
  for (const row of cases) {
    test(row.code, () => {
      assert.deepEqual(formatDyndnsReply({ kind: 'account', code: row.code }), row.reply);
    });
  }
});

describe('formatDyndnsReply: bodies are exactly the code', () => {
  // inadyn's custom mode counts success if ok|good|true|updated|nochg|success
  // appears anywhere (case-insensitive): error bodies must not contain them.
  const success = /ok|good|true|updated|nochg|success/i;
  const failures: readonly HostResult[] = [
    { code: 'notfqdn' },
    { code: 'nohost' },
    { code: 'abuse' },
    { code: 'dnserr' },
  ];
  for (const result of failures) {
    test(`${result.code} carries no success word`, () => {
      assert.doesNotMatch(hosts(result).body, success);
    });
  }
  for (const code of ['badauth', 'numhost', 'abuse', 'badagent', '911'] as const) {
    test(`account ${code} carries no success word`, () => {
      assert.doesNotMatch(formatDyndnsReply({ kind: 'account', code }).body, success);
    });
  }
});
