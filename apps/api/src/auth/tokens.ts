import { createHash, randomBytes } from 'node:crypto';

/**
 * Update tokens: 256 random bits, URL-safe (`[A-Za-z0-9_-]`, so routers that
 * paste them into URLs unescaped cannot break them), with a `mydns_` prefix so
 * secret scanners and people can tell what they are. Only the SHA-256 is
 * stored: a token has full entropy, so a fast hash is enough (unlike a password).
 */
export const TOKEN_PREFIX = 'mydns_';
const TOKEN_PATTERN = /^mydns_[A-Za-z0-9_-]{43}$/;

export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

export function looksLikeToken(secret: string): boolean {
  return TOKEN_PATTERN.test(secret);
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
