import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { capabilitiesOf } from './capabilities.ts';
import { reply } from './reply.ts';

describe('capabilitiesOf', () => {
  test('a Postfix submission EHLO before STARTTLS', () => {
    const caps = capabilitiesOf(
      reply(
        250,
        'smtp.example.net',
        'PIPELINING',
        'SIZE 10240000',
        'ETRN',
        'STARTTLS',
        'ENHANCEDSTATUSCODES',
        '8BITMIME',
        'DSN',
        'SMTPUTF8',
        'CHUNKING',
      ),
    );
    assert.equal(caps.pipelining, true);
    assert.equal(caps.size, true);
    assert.equal(caps.maxSize, 10_240_000);
    assert.equal(caps.starttls, true);
    assert.equal(caps.enhancedStatusCodes, true);
    assert.equal(caps.eightBitMime, true);
    assert.equal(caps.smtputf8, true);
    assert.deepEqual([...caps.auth], []);
    assert.equal(caps.xclient, undefined);
  });

  test('AUTH mechanisms, any case, and the old AUTH= form', () => {
    assert.deepEqual([...capabilitiesOf(reply(250, 'mx', 'AUTH plain LOGIN CRAM-MD5')).auth].sort(), [
      'CRAM-MD5',
      'LOGIN',
      'PLAIN',
    ]);
    assert.deepEqual([...capabilitiesOf(reply(250, 'mx', 'AUTH PLAIN', 'AUTH=LOGIN PLAIN')).auth].sort(), [
      'LOGIN',
      'PLAIN',
    ]);
  });

  test('SIZE without a number (or 0) is no limit; HELO (no reply) offers nothing', () => {
    assert.equal(capabilitiesOf(reply(250, 'mx', 'SIZE')).maxSize, undefined);
    assert.equal(capabilitiesOf(reply(250, 'mx', 'SIZE 0')).maxSize, undefined);
    const none = capabilitiesOf(undefined);
    assert.equal(none.starttls || none.pipelining || none.size, false);
    assert.equal(none.auth.size, 0);
  });

  test('XCLIENT attributes, upper case', () => {
    const caps = capabilitiesOf(reply(250, 'home', 'XCLIENT name addr PROTO HELO'));
    assert.deepEqual([...(caps.xclient ?? [])], ['NAME', 'ADDR', 'PROTO', 'HELO']);
  });
});
