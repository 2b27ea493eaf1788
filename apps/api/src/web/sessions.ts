import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { AccountRecord, HostRecord, SessionsRepository } from '@mydns/db';
import type { Request, Response } from 'express';
import { apiError } from '../errors.ts';

/**
 * Sign-in sessions for the web pages: a random token in an HttpOnly,
 * SameSite=Lax cookie, stored server-side as SHA-256 so a database leak holds
 * no usable session. Every form carries a CSRF token: the session's own secret
 * once signed in, and before that a value we signed, kept in a cookie of its own.
 *
 * Cookie tossing: every name under the zone belongs to someone, and an owner's
 * site at `alice.<zone>` can set cookies for the whole zone. So:
 * - over HTTPS the cookies are `__Host-` cookies (Secure, Path=/, no Domain:
 *   browsers refuse such a cookie from any other host), and cookies without
 *   the prefix are ignored there;
 * - a request carrying our session or CSRF cookie twice (one of them tossed)
 *   is refused: we cannot tell which one is ours;
 * - the pre-sign-in CSRF cookie holds a nonce and our HMAC of it, so a value
 *   the browser did not get from us is refused (the key is shared by every
 *   replica: app_secrets);
 * - state-changing requests from another origin are refused (http/same-origin.ts).
 * README "Security" says to serve the web pages on a name outside the zone as well.
 */
const SESSION = 'mydns_session';
const CSRF = 'mydns_csrf';
const SESSION_MS = 14 * 86_400_000;

/** The cookie's name on this request: `__Host-…` over HTTPS. */
export function cookieName(base: typeof SESSION | typeof CSRF, https: boolean): string {
  return https ? `__Host-${base}` : base;
}
export const SESSION_COOKIE = SESSION;
export const CSRF_COOKIE = CSRF;

/** Signed in with a hostname and its password: the host's own pages. */
export interface HostSession {
  readonly host: HostRecord;
  readonly account?: undefined;
  readonly csrf: string;
  readonly tokenHash: Buffer;
}

/** Signed in with an account's e-mail address (README "Accounts"): the account's pages and its hosts. */
export interface AccountSession {
  readonly account: AccountRecord;
  readonly host?: undefined;
  readonly csrf: string;
  readonly tokenHash: Buffer;
}

export type WebSession = HostSession | AccountSession;

/** Every value of every cookie in the header, in order (a name may come more than once). */
export function parseCookieList(header: string | undefined): Map<string, string[]> {
  const cookies = new Map<string, string[]>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at === -1) continue;
    const name = part.slice(0, at).trim();
    if (name === '') continue;
    let value: string;
    try {
      value = decodeURIComponent(part.slice(at + 1).trim());
    } catch {
      continue; // a malformed cookie is ignored
    }
    cookies.set(name, [...(cookies.get(name) ?? []), value]);
  }
  return cookies;
}

/** The first value of each cookie. */
export function parseCookies(header: string | undefined): Map<string, string> {
  return new Map([...parseCookieList(header)].map(([name, values]) => [name, values[0] ?? '']));
}

function setCookie(res: Response, name: string, value: string, maxAgeMs: number): void {
  const secure = res.locals.https ? '; Secure' : '';
  const cookie = `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeMs / 1000)}${secure}`;
  const previous = res.getHeader('Set-Cookie');
  const list = Array.isArray(previous) ? previous : previous === undefined ? [] : [String(previous)];
  res.setHeader('Set-Cookie', [...list.filter((c) => !c.startsWith(`${name}=`)), cookie]);
}

const hashOf = (token: string) => createHash('sha256').update(token).digest();

export function sameSecret(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && left.length > 0 && timingSafeEqual(left, right);
}

/**
 * Our cookie `base` on this request, or undefined. Refuses (400) a request that
 * carries it more than once: one of the two was set by someone else.
 */
function readCookie(req: Request, res: Response, base: typeof SESSION | typeof CSRF): string | undefined {
  const values = parseCookieList(req.headers.cookie).get(cookieName(base, Boolean(res.locals.https))) ?? [];
  if (values.length > 1) {
    throw apiError(
      'duplicate_cookies',
      'Your browser sent two MyDNS cookies of the same name, so another site may have set one. ' +
        'Clear the cookies of this site and sign in again.',
    );
  }
  return values[0];
}

export interface WebSessions {
  load(req: Request, res: Response): Promise<WebSession | undefined>;
  start(res: Response, host: HostRecord): Promise<void>;
  startForAccount(res: Response, account: AccountRecord): Promise<void>;
  /**
   * Between the password and the TOTP code of an account's sign-in: a value
   * for the code form, signed with the CSRF key, naming the account and its
   * credential version, valid for five minutes. It proves the password was
   * right a moment ago; the code is still counted by the login guard.
   */
  sealSecondFactor(account: AccountRecord): string;
  /** The account id the value names, if we made it, it is fresh, and the account's credentials are unchanged. */
  openSecondFactor(value: string): { accountId: number; credentialVersion: number } | undefined;
  end(req: Request, res: Response): Promise<void>;
  /** Ends the host's other sessions (after a password change). */
  endOthers(host: HostRecord, current: WebSession | undefined): Promise<void>;
  /** The pre-sign-in CSRF value for forms, set as a cookie when missing. */
  anonymousCsrf(req: Request, res: Response): string;
  checkAnonymousCsrf(req: Request, res: Response, submitted: unknown): boolean;
}

/** How long the code form of a sign-in stays valid after the password. */
const SECOND_FACTOR_MS = 5 * 60_000;

export function createWebSessions(deps: {
  repository: SessionsRepository;
  findHost: (name: string) => Promise<HostRecord | undefined>;
  findAccount: (id: number) => Promise<AccountRecord | undefined>;
  /** The key the pre-sign-in CSRF cookie is signed with (shared by every replica). */
  csrfKey: () => Buffer;
}): WebSessions {
  const sign = (nonce: string) =>
    createHmac('sha256', deps.csrfKey()).update(`csrf\0${nonce}`).digest('base64url').slice(0, 32);
  const signPending = (body: string) =>
    createHmac('sha256', deps.csrfKey()).update(`second-factor\0${body}`).digest('base64url');
  /** `nonce.signature`, both URL-safe: the signature proves we made it. */
  const isOurs = (value: string) => {
    const match = /^([A-Za-z0-9_-]{32})\.([A-Za-z0-9_-]{32})$/.exec(value);
    return Boolean(match?.[1] && match[2] && sameSecret(sign(match[1]), match[2]));
  };
  return {
    async load(req, res) {
      const token = readCookie(req, res, SESSION);
      if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
      const tokenHash = hashOf(token);
      const session = await deps.repository.find(tokenHash);
      if (!session) return undefined;
      if (session.accountId !== undefined) {
        const account = await deps.findAccount(session.accountId);
        return account ? { account, csrf: session.csrf, tokenHash } : undefined;
      }
      const host = await deps.findHost(session.hostName);
      return host ? { host, csrf: session.csrf, tokenHash } : undefined;
    },
    async start(res, host) {
      const token = randomBytes(32).toString('base64url');
      await deps.repository.create({
        tokenHash: hashOf(token),
        hostId: host.id,
        csrf: randomBytes(24).toString('base64url'),
        expiresAt: new Date(Date.now() + SESSION_MS),
      });
      setCookie(res, cookieName(SESSION, Boolean(res.locals.https)), token, SESSION_MS);
    },
    async startForAccount(res, account) {
      const token = randomBytes(32).toString('base64url');
      await deps.repository.createForAccount({
        tokenHash: hashOf(token),
        accountId: account.id,
        csrf: randomBytes(24).toString('base64url'),
        expiresAt: new Date(Date.now() + SESSION_MS),
      });
      setCookie(res, cookieName(SESSION, Boolean(res.locals.https)), token, SESSION_MS);
    },
    async end(req, res) {
      const token = parseCookies(req.headers.cookie).get(cookieName(SESSION, Boolean(res.locals.https)));
      if (token) await deps.repository.remove(hashOf(token));
      setCookie(res, cookieName(SESSION, Boolean(res.locals.https)), '', 0);
    },
    async endOthers(host, current) {
      await deps.repository.removeOthers(host.id, current?.tokenHash);
    },
    sealSecondFactor(account) {
      const body = `${account.id}.${account.credentialVersion}.${Date.now() + SECOND_FACTOR_MS}`;
      return `${body}.${signPending(body)}`;
    },
    openSecondFactor(value) {
      const match = /^([0-9]{1,15})\.([0-9]{1,10})\.([0-9]{1,15})\.([A-Za-z0-9_-]{43})$/.exec(value);
      if (!match?.[1] || !match[2] || !match[3] || !match[4]) return undefined;
      if (!sameSecret(signPending(`${match[1]}.${match[2]}.${match[3]}`), match[4])) return undefined;
      if (Number(match[3]) < Date.now()) return undefined;
      return { accountId: Number(match[1]), credentialVersion: Number(match[2]) };
    },
    anonymousCsrf(req, res) {
      const existing = readCookie(req, res, CSRF);
      if (existing && isOurs(existing)) return existing;
      const nonce = randomBytes(24).toString('base64url');
      const value = `${nonce}.${sign(nonce)}`;
      setCookie(res, cookieName(CSRF, Boolean(res.locals.https)), value, SESSION_MS);
      return value;
    },
    checkAnonymousCsrf(req, res, submitted) {
      const cookie = readCookie(req, res, CSRF);
      return (
        typeof submitted === 'string' &&
        cookie !== undefined &&
        isOurs(cookie) &&
        sameSecret(cookie, submitted)
      );
    },
  };
}
