import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { chooseAuthMechanism, encodeAuthLogin, encodeAuthPlain, loginPrompt } from './auth.ts';

describe('AUTH encodings', () => {
  test('PLAIN: NUL user NUL password, base64 (RFC 4616 §2; RFC 4954 §4 example)', () => {
    // RFC 4954's example: "AUTH PLAIN dGVzdAB0ZXN0ADEyMzQ=" is authzid "test", user "test", password "1234";
    // we send an empty authzid.
    assert.equal(encodeAuthPlain({ user: 'test', pass: '1234' }), 'AHRlc3QAMTIzNA==');
    assert.equal(
      Buffer.from(encodeAuthPlain({ user: 'mailer@example.net', pass: 'p@ss:wörd' }), 'base64').toString(
        'utf8',
      ),
      '\0mailer@example.net\0p@ss:wörd',
    );
    assert.throws(() => encodeAuthPlain({ user: 'a\0b', pass: 'x' }), /NUL/);
  });

  test('LOGIN: each value base64 of its UTF-8', () => {
    assert.equal(encodeAuthLogin('username'), 'dXNlcm5hbWU=');
    assert.equal(encodeAuthLogin('pässword'), Buffer.from('pässword', 'utf8').toString('base64'));
  });

  test('LOGIN prompts as servers send them', () => {
    const cases: [string, string][] = [
      ['VXNlcm5hbWU6', 'user'], // Username:
      ['dXNlcm5hbWU6', 'user'], // username:
      ['VXNlciBOYW1lAA==', 'user'], // "User Name\0" (old Exchange)
      ['UGFzc3dvcmQ6', 'pass'], // Password:
      ['cGFzc3dvcmQ6', 'pass'], // password:
      ['', 'unknown'],
      ['not base64!', 'unknown'],
      ['Z28gb24=', 'unknown'], // "go on"
    ];
    for (const [text, expected] of cases) assert.equal(loginPrompt(text), expected, text);
  });

  test('PLAIN is preferred; mechanisms we do not speak are not chosen', () => {
    assert.equal(chooseAuthMechanism(new Set(['LOGIN', 'PLAIN'])), 'PLAIN');
    assert.equal(chooseAuthMechanism(new Set(['LOGIN', 'CRAM-MD5'])), 'LOGIN');
    assert.equal(chooseAuthMechanism(new Set(['CRAM-MD5', 'XOAUTH2'])), undefined);
    assert.equal(chooseAuthMechanism(new Set()), undefined);
  });
});
