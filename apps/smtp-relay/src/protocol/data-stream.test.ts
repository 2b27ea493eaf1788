import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DataStream } from './data-stream.ts';

function run(
  input: string,
  splits: number[] = [],
): { out: string; done: boolean; rest: string; size: number } {
  const stream = new DataStream();
  const bytes = Buffer.from(input, 'latin1');
  const cuts = [0, ...splits, bytes.length];
  let out = '';
  for (let i = 0; i + 1 < cuts.length; i++) {
    const result = stream.feed(bytes.subarray(cuts[i], cuts[i + 1]));
    out += Buffer.concat(result.output).toString('latin1');
    if (result.done) {
      const rest = result.rest.toString('latin1') + bytes.subarray(cuts[i + 1]).toString('latin1');
      return { out, done: true, rest, size: stream.size };
    }
  }
  return { out, done: false, rest: '', size: stream.size };
}

describe('DataStream: end of data and normalisation', () => {
  const cases: readonly { name: string; input: string; out: string; done: boolean; rest?: string }[] = [
    {
      name: 'a plain message',
      input: 'Subject: x\r\n\r\nbody\r\n.\r\n',
      out: 'Subject: x\r\n\r\nbody\r\n',
      done: true,
    },
    { name: 'an empty message', input: '.\r\n', out: '', done: true },
    {
      name: 'pipelined commands after the end stay',
      input: 'a\r\n.\r\nQUIT\r\n',
      out: 'a\r\n',
      done: true,
      rest: 'QUIT\r\n',
    },
    { name: 'dot-stuffed lines pass as sent', input: '..x\r\n..\r\n.\r\n', out: '..x\r\n..\r\n', done: true },
    { name: 'an unstuffed leading dot is removed', input: '.x\r\n.\r\n', out: 'x\r\n', done: true },
    // SMTP smuggling (SEC Consult 2023): none of these end the message, and the backend cannot be made to think so.
    {
      name: '\\n.\\n is content, stuffed',
      input: 'a\n.\nMAIL FROM:<x@y>\r\n',
      out: 'a\r\n..\r\nMAIL FROM:<x@y>\r\n',
      done: false,
    },
    { name: '\\r\\n.\\n is content', input: 'a\r\n.\nb\r\n', out: 'a\r\n..\r\nb\r\n', done: false },
    { name: '\\n.\\r\\n is content', input: 'a\n.\r\nb\r\n', out: 'a\r\n..\r\nb\r\n', done: false },
    { name: '\\r.\\r is content', input: 'a\r.\rb\r\n', out: 'a\r\n..\r\nb\r\n', done: false },
    { name: '\\r\\n.\\r is content', input: 'a\r\n.\rb\r\n', out: 'a\r\n..\r\nb\r\n', done: false },
    { name: 'bare LF lines become CRLF', input: 'a\nb\n\r\n.\r\n', out: 'a\r\nb\r\n\r\n', done: true },
    { name: 'bare CR lines become CRLF', input: 'a\rb\r\r\n.\r\n', out: 'a\r\nb\r\n\r\n', done: true },
    {
      name: 'CR CR LF is a bare CR and a line end',
      input: 'a\r\r\nb\r\n.\r\n',
      out: 'a\r\n\r\nb\r\n',
      done: true,
    },
    {
      name: 'a bare-LF line starting with dots gets one more',
      input: 'a\n..b\r\n',
      out: 'a\r\n...b\r\n',
      done: false,
    },
    {
      name: 'binary bytes pass untouched',
      input: 'caf\u00e9 \u0000\u00ff\r\n.\r\n',
      out: 'caf\u00e9 \u0000\u00ff\r\n',
      done: true,
    },
  ];
  for (const row of cases) {
    test(row.name, () => {
      const whole = run(row.input);
      assert.equal(whole.out, row.out);
      assert.equal(whole.done, row.done);
      if (row.rest !== undefined) assert.equal(whole.rest, row.rest);
      // The same at every split point: packets can end anywhere.
      for (let cut = 1; cut < row.input.length; cut++) {
        const split = run(row.input, [cut]);
        assert.equal(split.out, row.out, `split at ${cut}`);
        assert.equal(split.done, row.done, `split at ${cut}`);
        if (row.rest !== undefined) assert.equal(split.rest, row.rest, `split at ${cut}`);
      }
      // And byte by byte.
      const bytewise = run(
        row.input,
        Array.from({ length: row.input.length - 1 }, (_, i) => i + 1),
      );
      assert.equal(bytewise.out, row.out);
    });
  }
  test('the output never contains CRLF "." CRLF, whatever the input', () => {
    const pieces = ['\r', '\n', '.', 'a', '\r\n'];
    let seed = 7;
    for (let round = 0; round < 2000; round++) {
      let input = '';
      for (let i = 0; i < 12; i++) {
        seed = (seed * 1103515245 + 12345) % 2 ** 31;
        input += pieces[seed % pieces.length];
      }
      const result = run(`x${input}x`);
      const out = `\r\n${result.out}`;
      assert.ok(!out.includes('\r\n.\r\n'), JSON.stringify(input));
      assert.ok(!/\r(?!\n)|(?<!\r)\n/.test(result.out), `bare CR or LF left: ${JSON.stringify(input)}`);
    }
  });
  test('size counts the message, not the end-of-data line', () => {
    assert.equal(run('abc\r\n.\r\n').size, 5);
    assert.equal(run('abc\r\n.\r\n', [4, 5, 6]).size, 5);
  });
});
