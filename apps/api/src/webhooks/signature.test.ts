import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { isValidSignature, secretText, signatureOf, webhookBody } from './signature.ts';

describe('webhook bodies and signatures', () => {
  const body = webhookBody({
    event: 'address_changed',
    hostname: 'home.dyn.example.net',
    old: { ipv4: '192.0.2.1', ipv6: null },
    new: { ipv4: '192.0.2.2', ipv6: '2001:db8::1' },
    at: new Date('2026-12-07T09:00:00.000Z'),
  });

  test('the body has the contract fields in a fixed order', () => {
    assert.equal(
      body,
      '{"event":"address_changed","hostname":"home.dyn.example.net","old":{"ipv4":"192.0.2.1","ipv6":null},"new":{"ipv4":"192.0.2.2","ipv6":"2001:db8::1"},"at":"2026-12-07T09:00:00.000Z"}',
    );
  });

  test('sha256=<hex HMAC-SHA256 of the body>, keyed with the secret as shown', () => {
    const secret = secretText(Buffer.alloc(32, 7));
    assert.equal(secret, 'BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc');
    // A known answer (computed with `openssl dgst -sha256 -hmac`), so a change of key or encoding shows.
    assert.equal(
      signatureOf('key', 'The quick brown fox jumps over the lazy dog'),
      'sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8',
    );
    const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
    assert.equal(signatureOf(secret, body), expected);
    assert.equal(isValidSignature(secret, body, expected), true);
    assert.equal(isValidSignature(secret, `${body} `, expected), false, 'one byte more');
    assert.equal(isValidSignature('another', body, expected), false);
    assert.equal(isValidSignature(secret, body, undefined), false);
  });
});
