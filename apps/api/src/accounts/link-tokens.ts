import { randomBytes } from 'node:crypto';
import { hashToken } from '../auth/tokens.ts';

/**
 * The tokens of mailed links (e-mail verification, password reset): 256
 * random bits, URL-safe (`[A-Za-z0-9_-]`, 43 characters), stored as SHA-256
 * only, single-use, valid for an hour.
 */
export const LINK_TTL_MS = 3_600_000;

export function createLinkToken(): { token: string; hash: Buffer } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashToken(token) };
}
