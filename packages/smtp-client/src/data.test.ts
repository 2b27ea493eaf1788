import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { encodeData } from './data.ts';

const encode = (text: string) => encodeData(text).toString('latin1');

describe('encodeData: CRLF lines, dot-stuffing, the end marker', () => {
  test('table', () => {
    const cases: [string, string][] = [
      ['Subject: x\r\n\r\nHello\r\n', 'Subject: x\r\n\r\nHello\r\n.\r\n'],
      // A message without a final line end gets one before the marker.
      ['Hello', 'Hello\r\n.\r\n'],
      ['', '.\r\n'],
      // Bare LF and bare CR become CRLF.
      ['a\nb\rc\r\n', 'a\r\nb\r\nc\r\n.\r\n'],
      ['a\n\nb', 'a\r\n\r\nb\r\n.\r\n'],
      // A line that starts with "." gets a second one (RFC 5321 §4.5.2), also after a rewritten line end.
      ['.\r\n', '..\r\n.\r\n'],
      ['a\r\n.b\r\n..c\r\n', 'a\r\n..b\r\n...c\r\n.\r\n'],
      ['a\n.\nb', 'a\r\n..\r\nb\r\n.\r\n'],
      ['.start', '..start\r\n.\r\n'],
      // A dot inside a line is left alone.
      ['a.b. c\r\n', 'a.b. c\r\n.\r\n'],
    ];
    for (const [input, expected] of cases) assert.equal(encode(input), expected, JSON.stringify(input));
  });

  test('smuggling: no bare "\\n.\\n" or "\\r.\\r" can end the message early', () => {
    const body = 'Hi\n.\nMAIL FROM:<evil@example>\r\nRCPT TO:<x@y>\r\n\r.\r';
    const out = encode(body);
    // Exactly one end marker, at the very end.
    assert.equal(out.indexOf('\r\n.\r\n'), out.length - 5);
    assert.ok(!/(^|[^\r])\n/.test(out), 'no bare LF');
    assert.ok(!/\r(?!\n)/.test(out), 'no bare CR');
  });

  test('UTF-8 text and Buffers pass through byte for byte', () => {
    assert.deepEqual(encodeData('grüß\n'), Buffer.from('grüß\r\n.\r\n', 'utf8'));
    assert.deepEqual(
      encodeData(Buffer.from([0xff, 0x0a])),
      Buffer.from([0xff, 0x0d, 0x0a, 0x2e, 0x0d, 0x0a]),
    );
  });
});
