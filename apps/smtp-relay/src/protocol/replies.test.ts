import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatReply, parseExtensions, parseReply, reply, replyDomain } from './replies.ts';

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
});
