import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { decodeBase32, encodeBase32, hotp, otpauthUrl, totp, totpStep, verifyTotp } from './totp.ts';

// The shared secret of both RFCs' test vectors: the ASCII string "12345678901234567890".
const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');

describe('HOTP (RFC 4226, Appendix D)', () => {
  const expected = [
    '755224',
    '287082',
    '359152',
    '969429',
    '338314',
    '254676',
    '287922',
    '162583',
    '399871',
    '520489',
  ];
  for (const [counter, code] of expected.entries()) {
    test(`counter ${counter} → ${code}`, () => assert.equal(hotp(RFC_SECRET, counter), code));
  }
});

describe('TOTP (RFC 6238, Appendix B, SHA-1 rows)', () => {
  // The RFC's table gives 8 digits; the 6-digit code is the same value mod 10^6.
  const rows: [number, string][] = [
    [59, '94287082'],
    [1111111109, '07081804'],
    [1111111111, '14050471'],
    [1234567890, '89005924'],
    [2000000000, '69279037'],
    [20000000000, '65353130'],
  ];
  for (const [seconds, code] of rows) {
    test(`T = ${seconds} s → ${code}`, () => {
      assert.equal(totp(RFC_SECRET, seconds * 1000, 8), code);
      assert.equal(totp(RFC_SECRET, seconds * 1000), code.slice(2));
    });
  }
});

describe('verifyTotp', () => {
  const now = 1111111111 * 1000;
  const step = totpStep(now);

  test('the current code, and one step either side, name their step', () => {
    assert.equal(verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step), { nowMs: now }), step);
    assert.equal(verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step - 1), { nowMs: now }), step - 1);
    assert.equal(verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step + 1), { nowMs: now }), step + 1);
  });

  test('two steps away, a wrong code, or not six digits: refused', () => {
    assert.equal(verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step - 2), { nowMs: now }), undefined);
    assert.equal(verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step + 2), { nowMs: now }), undefined);
    const wrong = String((Number(hotp(RFC_SECRET, step)) + 1) % 1_000_000).padStart(6, '0');
    assert.equal(verifyTotp(RFC_SECRET, wrong, { nowMs: now }), undefined);
    for (const code of ['', '12345', '1234567', 'abcdef', '12345a'])
      assert.equal(verifyTotp(RFC_SECRET, code, { nowMs: now }), undefined, code);
  });

  test('spaces as apps show them ("123 456") are ignored', () => {
    const code = hotp(RFC_SECRET, step);
    assert.equal(verifyTotp(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, { nowMs: now }), step);
  });

  test('a code is not accepted twice: not its step, nor an earlier one, once a step was used', () => {
    const code = hotp(RFC_SECRET, step);
    assert.equal(verifyTotp(RFC_SECRET, code, { nowMs: now, lastStep: step }), undefined);
    assert.equal(
      verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step - 1), { nowMs: now, lastStep: step }),
      undefined,
    );
    assert.equal(
      verifyTotp(RFC_SECRET, hotp(RFC_SECRET, step + 1), { nowMs: now, lastStep: step }),
      step + 1,
    );
  });
});

describe('base32 (RFC 4648 §10 test vectors, without padding)', () => {
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'MY'],
    ['fo', 'MZXQ'],
    ['foo', 'MZXW6'],
    ['foob', 'MZXW6YQ'],
    ['fooba', 'MZXW6YTB'],
    ['foobar', 'MZXW6YTBOI'],
  ];
  for (const [plain, encoded] of vectors) {
    test(`"${plain}" ↔ "${encoded}"`, () => {
      assert.equal(encodeBase32(Buffer.from(plain)), encoded);
      assert.equal(decodeBase32(encoded)?.toString(), plain);
    });
  }
  test('lower case, spaces and padding are read; other characters are not', () => {
    assert.equal(decodeBase32('mzxw 6ytb oi======')?.toString(), 'foobar');
    assert.equal(decodeBase32('MZXW1'), undefined);
  });
  test('the RFC secret round-trips', () => {
    assert.deepEqual(decodeBase32(encodeBase32(RFC_SECRET)), RFC_SECRET);
  });
});

test('otpauth URL: label issuer:account, the secret in base32, the parameters spelled out', () => {
  const url = new URL(
    otpauthUrl({ issuer: 'MyDNS dyn.example.net', account: 'a@b.org', secret: RFC_SECRET }),
  );
  assert.equal(url.protocol, 'otpauth:');
  assert.equal(url.host, 'totp');
  assert.equal(decodeURIComponent(url.pathname), '/MyDNS dyn.example.net:a@b.org');
  assert.equal(url.searchParams.get('secret'), encodeBase32(RFC_SECRET));
  assert.equal(url.searchParams.get('issuer'), 'MyDNS dyn.example.net');
  assert.equal(url.searchParams.get('algorithm'), 'SHA1');
  assert.equal(url.searchParams.get('digits'), '6');
  assert.equal(url.searchParams.get('period'), '30');
});
