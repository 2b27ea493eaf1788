import { readFileSync } from 'node:fs';
import { apiError } from '../errors.ts';

/**
 * What a new password must be (README "Security"). Lengths are counted as a
 * person counts characters (grapheme clusters: "é" written as e + accent is
 * one, an emoji with a skin tone is one), bytes only where bcrypt needs it.
 * Refused, with a message a person understands:
 * - fewer than 8 characters, more than 72 bytes (bcrypt ignores the rest),
 *   whitespace only;
 * - the hostname or the e-mail address, or a password containing either
 *   (the label and the e-mail's local part only from 4 characters on, so a
 *   one-letter hostname does not forbid that letter);
 * - one of the 10,000 most common passwords (apps/api/data/common-passwords.txt,
 *   which says where it comes from), in any letter case.
 */

export const MIN_PASSWORD_CHARACTERS = 8;
/** bcrypt ignores everything after 72 bytes; a longer password would accept any ending. */
export const MAX_PASSWORD_BYTES = 72;

const COMMON_FILE = new URL('../../data/common-passwords.txt', import.meta.url);
let common: ReadonlySet<string> | undefined;

function commonPasswords(): ReadonlySet<string> {
  common ??= new Set(
    readFileSync(COMMON_FILE, 'utf8')
      .split('\n')
      .filter((line) => line !== '' && !line.startsWith('#')),
  );
  return common;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Characters as a person counts them. */
export function countCharacters(text: string): number {
  let count = 0;
  for (const _ of segmenter.segment(text)) count++;
  return count;
}

export interface PasswordContext {
  /** The host's label (`alice`) and full name (`alice.mydns.test`). */
  readonly label?: string;
  readonly hostname?: string;
  readonly email?: string | null;
}

/** The password if it may be used, else a 400 naming the problem. */
export function checkNewPassword(password: unknown, context: PasswordContext = {}): string {
  if (typeof password !== 'string' || password.length === 0) {
    throw apiError('password_required', 'a password is required');
  }
  if (password.trim() === '') {
    throw apiError('password_blank', 'the password cannot be only spaces');
  }
  if (countCharacters(password) < MIN_PASSWORD_CHARACTERS) {
    throw apiError('password_too_short', `the password needs at least ${MIN_PASSWORD_CHARACTERS} characters`);
  }
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
    throw apiError(
      'password_too_long',
      `the password can have at most ${MAX_PASSWORD_BYTES} bytes (about ${MAX_PASSWORD_BYTES} plain letters)`,
    );
  }
  const lower = password.toLowerCase();
  const words: { text: string; whole: boolean; what: string }[] = [];
  if (context.hostname) words.push({ text: context.hostname, whole: false, what: 'the hostname' });
  if (context.label)
    words.push({ text: context.label, whole: context.label.length < 4, what: 'the hostname' });
  if (context.email) {
    const email = context.email.toLowerCase();
    const local = email.slice(0, Math.max(0, email.indexOf('@')));
    words.push({ text: email, whole: false, what: 'your e-mail address' });
    if (local !== '') words.push({ text: local, whole: local.length < 4, what: 'your e-mail address' });
  }
  for (const word of words) {
    const text = word.text.toLowerCase();
    if (lower === text || (!word.whole && lower.includes(text))) {
      throw apiError('password_too_personal', `the password cannot contain ${word.what}`);
    }
  }
  if (commonPasswords().has(lower)) {
    throw apiError(
      'password_common',
      'this password is one of the most common ones, which attackers try first; choose another',
    );
  }
  return password;
}
