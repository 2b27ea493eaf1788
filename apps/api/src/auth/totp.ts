import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Time-based one-time passwords: RFC 6238 over RFC 4226's HOTP, with the
 * parameters every authenticator app supports by default (SHA-1, 6 digits,
 * 30-second steps). Pure, apart from `generateTotpSecret`'s randomness.
 *
 * A code is accepted one step either side of now (RFC 6238 §5.2 recommends
 * allowing one step of clock drift), and never twice: the caller keeps the
 * last step that was accepted and passes it back, so a code seen over a
 * shoulder or in a log cannot be replayed within its window.
 */

export const TOTP_DIGITS = 6;
export const TOTP_STEP_SECONDS = 30;
/** 160 bits: RFC 4226 §4 asks for at least 128 and recommends 160 (the size of SHA-1's output). */
const SECRET_BYTES = 20;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding: what otpauth:// URLs and authenticator apps use. */
export function encodeBase32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Base32 in any case, spaces and padding ignored; undefined for anything else. */
export function decodeBase32(text: string): Buffer | undefined {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  const bytes: number[] = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index === -1) return undefined;
    value = ((value << 5) | index) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(bytes);
}

export function generateTotpSecret(): Buffer {
  return randomBytes(SECRET_BYTES);
}

/** RFC 4226 §5.3: HMAC-SHA-1 of the 8-byte counter, dynamic truncation, the last `digits` decimal digits. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(message).digest();
  const offset = (mac[mac.length - 1] ?? 0) & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** RFC 6238 §4.2: the step of `timeMs` (T0 = 0). */
export function totpStep(timeMs: number, stepSeconds = TOTP_STEP_SECONDS): number {
  return Math.floor(timeMs / 1000 / stepSeconds);
}

export function totp(secret: Uint8Array, timeMs: number, digits = TOTP_DIGITS): string {
  return hotp(secret, totpStep(timeMs), digits);
}

/**
 * The step `code` belongs to, if it is right for now ± one step and later than
 * `lastStep` (the last one accepted for this secret); undefined otherwise.
 */
export function verifyTotp(
  secret: Uint8Array,
  code: string,
  options: { nowMs: number; lastStep?: number | null | undefined },
): number | undefined {
  const typed = code.replace(/\s/g, '');
  if (!/^[0-9]{6}$/.test(typed)) return undefined;
  const now = totpStep(options.nowMs);
  let matched: number | undefined;
  // Every candidate is computed and compared, matched or not: the time taken says nothing.
  for (const step of [now - 1, now, now + 1]) {
    const right = timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(typed));
    if (right && matched === undefined) matched = step;
  }
  if (matched === undefined) return undefined;
  if (options.lastStep !== null && options.lastStep !== undefined && matched <= options.lastStep)
    return undefined;
  return matched;
}

/**
 * The otpauth:// URL authenticator apps read from the QR code (the Key Uri
 * Format of google-authenticator's wiki, which every app follows): issuer and
 * account in the label and the issuer again as a parameter.
 */
export function otpauthUrl(options: { issuer: string; account: string; secret: Uint8Array }): string {
  const label = `${encodeURIComponent(options.issuer)}:${encodeURIComponent(options.account)}`;
  const params = new URLSearchParams({
    secret: encodeBase32(options.secret),
    issuer: options.issuer,
    algorithm: 'SHA1',
    digits: String(TOTP_DIGITS),
    period: String(TOTP_STEP_SECONDS),
  });
  return `otpauth://totp/${label}?${params.toString()}`;
}
