/**
 * The SASL encodings AUTH needs (RFC 4954) for PLAIN (RFC 4616) and LOGIN
 * (draft-murchison-sasl-login). Pure.
 */

export interface Credentials {
  readonly user: string;
  readonly pass: string;
}

/** PLAIN's one message: authzid (empty), NUL, authcid, NUL, password, in UTF-8, base64. */
export function encodeAuthPlain(credentials: Credentials): string {
  if (credentials.user.includes('\0') || credentials.pass.includes('\0'))
    throw new Error('AUTH PLAIN credentials cannot contain NUL');
  return Buffer.from(`\0${credentials.user}\0${credentials.pass}`, 'utf8').toString('base64');
}

/** LOGIN sends the user name and the password, each on its own line, each base64 of its UTF-8. */
export function encodeAuthLogin(value: string): string {
  return Buffer.from(value, 'utf8').toString('base64');
}

/**
 * What a 334 challenge asks for in LOGIN: its text is base64 of `Username:`
 * or `Password:` (some servers send `User Name`, lower case, or nothing at
 * all). Unknown prompts are answered in order: user first, then password.
 */
export function loginPrompt(challengeText: string): 'user' | 'pass' | 'unknown' {
  const text = challengeText.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return 'unknown';
  const decoded = Buffer.from(text, 'base64').toString('utf8').toLowerCase().replace(/\s+/g, '');
  if (decoded.startsWith('user')) return 'user';
  if (decoded.startsWith('pass')) return 'pass';
  return 'unknown';
}

/** The SASL mechanism to use of those offered, best first; undefined when we know none of them. */
export function chooseAuthMechanism(offered: ReadonlySet<string>): 'PLAIN' | 'LOGIN' | undefined {
  if (offered.has('PLAIN')) return 'PLAIN';
  if (offered.has('LOGIN')) return 'LOGIN';
  return undefined;
}
