import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type LineEvent, LineReader } from './line-reader.ts';

function drain(reader: LineReader): string[] {
  const out: string[] = [];
  for (let event: LineEvent | undefined = reader.next(); event; event = reader.next()) {
    out.push(event.kind === 'line' ? event.line.toString('latin1') : '<too-long>');
  }
  return out;
}

describe('LineReader', () => {
  test('pipelined commands in one packet come out one by one, in order', () => {
    const reader = new LineReader(2048);
    reader.push(Buffer.from('MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\nDATA\r\nSubject: x'));
    assert.deepEqual(drain(reader), ['MAIL FROM:<a@b>', 'RCPT TO:<c@d>', 'RCPT TO:<e@f>', 'DATA']);
    assert.equal(reader.hasPartialLine, true);
    assert.equal(reader.takeRest().toString(), 'Subject: x');
  });
  test('a line split over many packets, and a bare LF line end', () => {
    const reader = new LineReader(2048);
    for (const part of ['EH', 'LO x', '\r', '\nNOOP\n']) reader.push(Buffer.from(part));
    assert.deepEqual(drain(reader), ['EHLO x', 'NOOP']);
    assert.equal(reader.hasPartialLine, false);
  });
  test('a CR alone does not end a line (it stays in it, for the parser to refuse)', () => {
    const reader = new LineReader(2048);
    reader.push(Buffer.from('RCPT TO:<a@b>\rDATA\r\n'));
    assert.deepEqual(drain(reader), ['RCPT TO:<a@b>\rDATA']);
  });
  test('a long line is reported once, in its place, and what follows is kept', () => {
    const reader = new LineReader(512);
    reader.push(Buffer.from('NOOP\r\n'));
    reader.push(Buffer.from('X'.repeat(600)));
    reader.push(Buffer.from('X'.repeat(600)));
    reader.push(Buffer.from('\r\nQUIT\r\n'));
    assert.deepEqual(drain(reader), ['NOOP', '<too-long>', 'QUIT']);
  });
  test('the limit counts CRLF: 510 characters fit in 512, 511 do not', () => {
    const reader = new LineReader(512);
    reader.push(Buffer.from(`${'a'.repeat(510)}\r\n${'b'.repeat(511)}\r\n`));
    const events = drain(reader);
    assert.equal(events[0]?.length, 510);
    assert.equal(events[1], '<too-long>');
  });
  test('clear() drops everything buffered (STARTTLS)', () => {
    const reader = new LineReader(2048);
    reader.push(Buffer.from('NOOP\r\nMAIL FROM:<evil@x>\r\n'));
    assert.equal(reader.clear(), 'NOOP\r\nMAIL FROM:<evil@x>\r\n'.length);
    assert.deepEqual(drain(reader), []);
  });
});
