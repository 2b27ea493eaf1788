import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { HostRecord, SessionsRepository } from '@mydns/db';
import type { Request, Response } from 'express';

/**
 * Sign-in sessions for the web pages: a random token in an HttpOnly,
 * SameSite=Lax cookie (Secure over HTTPS), stored server-side as SHA-256 so a
 * database leak holds no usable session. Every form carries a CSRF token: the
 * session's own secret once signed in, and before that a double-submit value
 * kept in a cookie of its own.
 */
export const SESSION_COOKIE = 'mydns_session';
export const CSRF_COOKIE = 'mydns_csrf';
const SESSION_MS = 14 * 86_400_000;

export interface WebSession {
  readonly host: HostRecord;
  readonly csrf: string;
  readonly tokenHash: Buffer;
}

export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at === -1) continue;
    const name = part.slice(0, at).trim();
    if (name === '' || cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(part.slice(at + 1).trim()));
    } catch {
      // a malformed cookie is ignored
    }
  }
  return cookies;
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

export interface WebSessions {
  load(req: Request): Promise<WebSession | undefined>;
  start(res: Response, host: HostRecord): Promise<void>;
  end(req: Request, res: Response): Promise<void>;
  /** Ends the host's other sessions (after a password change). */
  endOthers(host: HostRecord, current: WebSession | undefined): Promise<void>;
  /** The pre-sign-in CSRF value for forms, set as a cookie when missing. */
  anonymousCsrf(req: Request, res: Response): string;
  checkAnonymousCsrf(req: Request, submitted: unknown): boolean;
}

export function createWebSessions(deps: {
  repository: SessionsRepository;
  findHost: (name: string) => Promise<HostRecord | undefined>;
}): WebSessions {
  return {
    async load(req) {
      const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
      if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
      const tokenHash = hashOf(token);
      const session = await deps.repository.find(tokenHash);
      if (!session) return undefined;
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
      setCookie(res, SESSION_COOKIE, token, SESSION_MS);
    },
    async end(req, res) {
      const token = parseCookies(req.headers.cookie).get(SESSION_COOKIE);
      if (token) await deps.repository.remove(hashOf(token));
      setCookie(res, SESSION_COOKIE, '', 0);
    },
    async endOthers(host, current) {
      await deps.repository.removeOthers(host.id, current?.tokenHash);
    },
    anonymousCsrf(req, res) {
      const existing = parseCookies(req.headers.cookie).get(CSRF_COOKIE);
      if (existing && /^[A-Za-z0-9_-]{32}$/.test(existing)) return existing;
      const value = randomBytes(24).toString('base64url');
      setCookie(res, CSRF_COOKIE, value, SESSION_MS);
      return value;
    },
    checkAnonymousCsrf(req, submitted) {
      const cookie = parseCookies(req.headers.cookie).get(CSRF_COOKIE);
      return typeof submitted === 'string' && cookie !== undefined && sameSecret(cookie, submitted);
    },
  };
}
