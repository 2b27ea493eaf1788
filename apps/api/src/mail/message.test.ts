import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  buildMessage,
  encodeQuotedPrintableLine,
  encodeWords,
  formatDate,
  formatMailbox,
  MailInputError,
  type MessageInput,
} from './message.ts';

function counter() {
  let n = 0;
  return () => `r${(++n).toString(16).padStart(8, '0')}`;
}

const input = (more: Partial<MessageInput> = {}): MessageInput => ({
  from: { name: 'MyDNS', address: 'no-reply@dyn.example.net' },
  to: 'alice@example.org',
  subject: 'Confirm your address',
  text: 'Hello,\n\nconfirm: https://dyn.example.net/verify?token=abc\n',
  html: '<p>Hello,</p><p><a href="https://dyn.example.net/verify?token=abc">confirm</a></p>',
  date: new Date('2026-12-01T09:05:07Z'),
  random: counter(),
  ...more,
});

/** Headers (unfolded) and the MIME parts of a built message: a reader independent of the builder. */
function parse(data: string) {
  const [head = '', ...rest] = data.split('\r\n\r\n');
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]/g, ' ').split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const boundary = /boundary="([^"]+)"/.exec(headers.get('content-type') ?? '')?.[1] ?? '';
  const body = rest.join('\r\n\r\n');
  const parts = body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((chunk) => {
      const [partHead = '', ...partBody] = chunk.replace(/^\r\n/, '').split('\r\n\r\n');
      const encoding = /Content-Transfer-Encoding: (\S+)/.exec(partHead)?.[1];
      const raw = partBody.join('\r\n\r\n').replace(/\r\n$/, '');
      const text = encoding === 'quoted-printable' ? decodeQuotedPrintable(raw) : raw;
      return { type: /Content-Type: ([^;]+)/.exec(partHead)?.[1], encoding, text };
    });
  return { headers, boundary, parts, body };
}

function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = [];
  const soft = text.replace(/=\r\n/g, '');
  for (let i = 0; i < soft.length; i++) {
    if (soft[i] === '=') {
      bytes.push(Number.parseInt(soft.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(soft.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(text: string): string {
  return text
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?UTF-8\?B\?([A-Za-z0-9+/=]*)\?=/g, (_, b64: string) =>
      Buffer.from(b64, 'base64').toString('utf8'),
    );
}

function assertWellFormed(data: string) {
  assert.ok(!/[^\t\r\n\x20-\x7e]/.test(data), 'printable 7-bit ASCII only');
  assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(data), 'CRLF line ends only');
  for (const line of data.split('\r\n')) assert.ok(line.length <= 998, `a line of ${line.length} octets`);
}

describe('buildMessage', () => {
  test('headers, both parts, CRLF lines', () => {
    const built = buildMessage(input());
    assertWellFormed(built.data);
    const { headers, parts } = parse(built.data);
    assert.equal(headers.get('from'), 'MyDNS <no-reply@dyn.example.net>');
    assert.equal(headers.get('to'), 'alice@example.org');
    assert.equal(headers.get('subject'), 'Confirm your address');
    assert.equal(headers.get('date'), 'Tue, 01 Dec 2026 09:05:07 +0000');
    assert.equal(headers.get('message-id'), '<r00000001@dyn.example.net>');
    assert.equal(built.messageId, '<r00000001@dyn.example.net>');
    assert.equal(headers.get('mime-version'), '1.0');
    assert.equal(headers.get('auto-submitted'), 'auto-generated');
    assert.match(headers.get('content-type') ?? '', /^multipart\/alternative; boundary="=_mydns_r00000002"$/);
    assert.deepEqual(
      parts.map((p) => [p.type, p.encoding]),
      [
        ['text/plain', '7bit'],
        ['text/html', '7bit'],
      ],
    );
    assert.equal(parts[0]?.text, 'Hello,\r\n\r\nconfirm: https://dyn.example.net/verify?token=abc\r\n');
    assert.equal(parts[1]?.text, input().html);
  });

  test('non-ASCII subject, name and body: encoded words and quoted-printable that decode back', () => {
    const subject = 'Bestätigen Sie Ihre Adresse für Ihren dynamischen Hostnamen – 確認してください 🎉';
    const text = `Grüße!\n${'ä'.repeat(700)}\nEnde \n.\nFrom here\n`;
    const built = buildMessage(
      input({
        subject,
        text,
        html: `<p>Grüße ${'€'.repeat(400)}</p>`,
        from: { name: 'MyDNS Bücher', address: 'no-reply@dyn.example.net' },
      }),
    );
    assertWellFormed(built.data);
    const { headers, parts } = parse(built.data);
    assert.equal(decodeWords(headers.get('subject') ?? ''), subject);
    assert.equal(decodeWords(headers.get('from') ?? ''), 'MyDNS Bücher <no-reply@dyn.example.net>');
    assert.equal(parts[0]?.encoding, 'quoted-printable');
    assert.equal(parts[0]?.text, text.replace(/\n/g, '\r\n'));
    assert.equal(parts[1]?.text, `<p>Grüße ${'€'.repeat(400)}</p>`);
    for (const line of built.data.split('\r\n\r\n').slice(1).join('\r\n').split('\r\n'))
      assert.ok(line.length <= 76 || line.startsWith('This is'), `QP line of ${line.length}`);
  });

  test('a long ASCII line (over 998) is quoted-printable, not cut', () => {
    const long = `https://dyn.example.net/x?token=${'a'.repeat(1200)}`;
    const { parts } = parse(buildMessage(input({ text: long })).data);
    assert.equal(parts[0]?.encoding, 'quoted-printable');
    assert.equal(parts[0]?.text, long);
  });

  test('header injection: a CR or LF (or another control character) in a header value is refused', () => {
    const attempts: Partial<MessageInput>[] = [
      { subject: 'Hi\r\nBcc: eve@example.net' },
      { subject: 'Hi\nBcc: eve@example.net' },
      { subject: 'Hi\rBcc: eve@example.net' },
      { subject: 'nul\u0000byte' },
      { from: { name: 'MyDNS\r\nBcc: eve@example.net', address: 'no-reply@dyn.example.net' } },
      { to: 'alice@example.org\r\nBcc: eve@example.net' },
    ];
    for (const attempt of attempts) assert.throws(() => buildMessage(input(attempt)), MailInputError);
    assert.doesNotThrow(() => buildMessage(input({ subject: 'tab\tis fine' })));
  });

  test('a body that holds the boundary gets another one', () => {
    const random = counter();
    const built = buildMessage(input({ random, text: 'a line --=_mydns_r00000002 here' }));
    assert.match(built.data, /boundary="=_mydns_r00000003"/);
    assert.equal(parse(built.data).parts.length, 2);
  });
});

describe('header pieces', () => {
  test('formatMailbox: atoms, quoted strings, encoded words', () => {
    assert.equal(formatMailbox({ name: undefined, address: 'a@b.example' }), 'a@b.example');
    assert.equal(formatMailbox({ name: 'MyDNS', address: 'a@b.example' }), 'MyDNS <a@b.example>');
    assert.equal(formatMailbox({ name: 'Dyn, Inc.', address: 'a@b.example' }), '"Dyn, Inc." <a@b.example>');
    assert.equal(formatMailbox({ name: 'say "hi"', address: 'a@b.example' }), '"say \\"hi\\"" <a@b.example>');
    assert.equal(
      formatMailbox({ name: 'Zoë', address: 'a@b.example' }),
      '=?UTF-8?B?Wm/Dqw==?= <a@b.example>',
    );
  });

  test('encodeWords: words of at most 75 characters, characters never split', () => {
    assert.equal(encodeWords('plain'), 'plain');
    assert.equal(encodeWords('looks =?like?= a word'), '=?UTF-8?B?bG9va3MgPT9saWtlPz0gYSB3b3Jk?=');
    const text = '🎉'.repeat(30);
    const words = encodeWords(text).split('\r\n ');
    assert.ok(words.length > 1);
    for (const word of words) {
      assert.ok(word.length <= 75, word);
      const decoded = Buffer.from(word.slice(10, -2), 'base64').toString('utf8');
      assert.ok(!decoded.includes('\ufffd'), 'a character split between words');
    }
  });

  test('encodeQuotedPrintableLine: escapes and soft breaks', () => {
    assert.equal(encodeQuotedPrintableLine('a=b'), 'a=3Db');
    assert.equal(encodeQuotedPrintableLine('trailing '), 'trailing=20');
    assert.equal(encodeQuotedPrintableLine('tab\t'), 'tab=09');
    assert.equal(encodeQuotedPrintableLine('.dot'), '=2Edot');
    assert.equal(encodeQuotedPrintableLine('From me'), '=46rom me');
    assert.equal(encodeQuotedPrintableLine('ü'), '=C3=BC');
    const long = encodeQuotedPrintableLine('é'.repeat(40));
    for (const line of long.split('\r\n')) assert.ok(line.length <= 76);
    assert.ok(!/=[0-9A-F]?=\r\n/.test(long), 'an escape is never split by a soft break');
  });

  test('formatDate: RFC 5322, UTC', () => {
    assert.equal(formatDate(new Date('2027-03-04T23:59:01.999Z')), 'Thu, 04 Mar 2027 23:59:01 +0000');
  });
});
