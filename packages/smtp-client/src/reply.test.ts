import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DEFAULT_REPLY_LIMITS,
  describeReply,
  enhancedStatus,
  formatReply,
  parseExtensions,
  parseReply,
  reply,
  replyDomain,
} from './reply.ts';

const LIMITS = { maxLineLength: 100, maxLines: 5 };

describe('replies', () => {
  test('formatReply: one line and several', () => {
    assert.equal(formatReply(reply(250, '2.0.0 Ok')), '250 2.0.0 Ok\r\n');
    assert.equal(formatReply(reply(250, 'a', 'b', 'c')), '250-a\r\n250-b\r\n250 c\r\n');
  });
  test('parseReply: complete, multi-line, bare code, incomplete', () => {
    const buffer = Buffer.from('250-home.example\r\n250-SIZE 10\r\n250 8BITMIME\r\n354 go\r\n');
    const first = parseReply(buffer, LIMITS);
    assert.equal(first.kind, 'reply');
    if (first.kind !== 'reply') return;
    assert.deepEqual(first.reply, { code: 250, lines: ['home.example', 'SIZE 10', '8BITMIME'] });
    const second = parseReply(buffer.subarray(first.consumed), LIMITS);
    assert.ok(second.kind === 'reply' && second.reply.code === 354);
    assert.ok(parseReply(Buffer.from('250\n'), LIMITS).kind === 'reply');
    assert.equal(parseReply(Buffer.from('250-a\r\n250 b'), LIMITS).kind, 'incomplete');
    assert.equal(parseReply(Buffer.from('22'), LIMITS).kind, 'incomplete');
  });
  test('parseReply: what a backend may not send', () => {
    const malformed = [
      'HTTP/1.1 400 Bad Request\r\n',
      '+OK POP3 ready\r\n',
      '-ERR unknown\r\n',
      '120 wait\r\n',
      '620 nonsense\r\n',
      '250-a\r\n251 b\r\n',
      `250 ${'x'.repeat(200)}\r\n`,
      '250-1\r\n250-2\r\n250-3\r\n250-4\r\n250-5\r\n250 6\r\n',
    ];
    for (const text of malformed) assert.equal(parseReply(Buffer.from(text), LIMITS).kind, 'malformed', text);
    assert.equal(parseReply(Buffer.from('x'.repeat(150)), LIMITS).kind, 'malformed');
  });
  test('control characters in a reply text are removed before a client sees them', () => {
    const parsed = parseReply(Buffer.from('550 5.1.1 no\u0007 such\u0000 user\r\n'), LIMITS);
    assert.ok(parsed.kind === 'reply');
    if (parsed.kind === 'reply') assert.deepEqual(parsed.reply.lines, ['5.1.1 no such user']);
  });
  test('parseExtensions and replyDomain', () => {
    const ehlo = reply(
      250,
      'Home.Example Hello',
      'PIPELINING',
      'size 1000',
      'XCLIENT NAME ADDR PROTO HELO',
      'STARTTLS',
    );
    const ext = parseExtensions(ehlo);
    assert.deepEqual([...ext.keys()], ['PIPELINING', 'SIZE', 'XCLIENT', 'STARTTLS']);
    assert.deepEqual(ext.get('XCLIENT'), ['NAME', 'ADDR', 'PROTO', 'HELO']);
    assert.equal(replyDomain(ehlo), 'home.example');
  });
  test('a reply split across reads is incomplete until its last line arrives', () => {
    const whole = Buffer.from('250-smtp.example Hello\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n');
    for (let cut = 1; cut < whole.length; cut++) {
      assert.equal(parseReply(whole.subarray(0, cut), LIMITS).kind, 'incomplete', `cut at ${cut}`);
    }
    const parsed = parseReply(whole, DEFAULT_REPLY_LIMITS);
    assert.ok(parsed.kind === 'reply' && parsed.consumed === whole.length);
  });
  test('enhancedStatus: RFC 3463 codes, believed only when the class matches the reply code', () => {
    const cases: [number, string, string | undefined][] = [
      [250, '2.0.0 Ok: queued as 4XyZ', '2.0.0'],
      [550, '5.1.1 <bob@example.net>: Recipient address rejected', '5.1.1'],
      [451, '4.7.1 Greylisted, try again later', '4.7.1'],
      [535, '5.7.8 Error: authentication failed', '5.7.8'],
      [552, '5.3.4 Message size exceeds fixed limit', '5.3.4'],
      [250, 'smtp.example Hello', undefined],
      [550, '4.1.1 the class disagrees with the code', undefined],
      [550, '5.1.1.', undefined],
      [550, '5.1234.1 too many digits', undefined],
      [220, '2.0.0', '2.0.0'],
    ];
    for (const [code, text, expected] of cases) {
      assert.equal(enhancedStatus(reply(code, text))?.text, expected, `${code} ${text}`);
    }
    assert.deepEqual(enhancedStatus(reply(550, '5.7.1 denied')), {
      class: 5,
      subject: 7,
      detail: 1,
      text: '5.7.1',
    });
  });
  test('describeReply: one line, cut when long', () => {
    assert.equal(describeReply(reply(550, '5.1.1 no', 'such user')), '550 5.1.1 no / such user');
    assert.equal(describeReply(reply(250, 'x'.repeat(300)), 20), `250 ${'x'.repeat(16)}…`);
  });
});
