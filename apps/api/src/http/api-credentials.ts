import type { AppError } from '@mydns/runtime';
import express, { type Request, type RequestHandler, type Response, type Router } from 'express';
import type { Authenticator } from '../auth/authenticator.ts';
import { apiError } from '../errors.ts';
import { sameSecret, type WebSession, type WebSessions } from '../web/sessions.ts';
import { asyncHandler } from './async-handler.ts';

/**
 * What the JSON API of hosts (hosts/routes.ts) and of accounts
 * (accounts/routes.ts) share about who is asking: a signed-in web session in
 * place of Basic auth, the current password a session must add to a
 * sensitive change, and the routes of update tokens. One copy, so the two
 * APIs cannot drift apart on a security rule.
 */

/**
 * The request's web session when it has no Authorization header; a session's
 * write must carry its CSRF secret in X-CSRF-Token (a cookie alone is sent by
 * any page the browser opens).
 */
export async function loadApiSession(
  sessions: WebSessions,
  req: Request,
  res: Response,
): Promise<WebSession | undefined> {
  if (req.headers.authorization) return undefined;
  const session = await sessions.load(req, res);
  if (!session) return undefined;
  const writes = req.method !== 'GET' && req.method !== 'HEAD';
  if (writes && !sameSecret(session.csrf, String(req.headers['x-csrf-token'] ?? ''))) {
    throw apiError('csrf_required', 'send the X-CSRF-Token header of your session');
  }
  return session;
}

/**
 * A session cookie alone does not change a password, delete anything or make
 * a token: the body carries `currentPassword` too, checked like a sign-in
 * (same limits) for the name `usernameOf` gives. Basic auth with the password
 * has proven it already, so only a session is asked.
 */
export function createCurrentPasswordCheck(
  authenticator: Authenticator,
  usernameOf: (res: Response) => string,
): (req: Request, res: Response) => Promise<void> {
  return async (req, res) => {
    if (!res.locals.session) return;
    const current = ((req.body ?? {}) as Record<string, unknown>).currentPassword;
    if (typeof current !== 'string' || current === '') {
      throw apiError('current_password_required', 'send currentPassword: your current password');
    }
    const login = await authenticator.authenticate({
      source: res.locals.client,
      username: usernameOf(res),
      secret: current,
      purpose: 'manage',
      edge: 'api',
      accounts: true,
      // TOTP was asked at sign-in; the session stands in for the code.
      secondFactor: 'session',
    });
    if (!login.ok) {
      if (login.reason === 'wrong' || login.reason === 'token_not_allowed')
        throw apiError('wrong_current_password', 'the current password is wrong');
      throw loginError(login.reason);
    }
  };
}

/** Whose tokens a request acts on: a host's or an account's. */
export interface TokenRoutesDeps {
  guard: RequestHandler;
  confirmPassword: (req: Request, res: Response) => Promise<void>;
  create(res: Response, body: Record<string, unknown>): Promise<unknown>;
  list(res: Response): Promise<readonly unknown[]>;
  revoke(res: Response, id: number): Promise<void>;
}

/** POST, GET `<path>` and DELETE `<path>/:id`: create (with the current password), list, revoke. */
export function addTokenRoutes(router: Router, path: string, deps: TokenRoutesDeps): void {
  const json = express.json({ limit: '16kb' });
  router.post(
    path,
    deps.guard,
    json,
    asyncHandler(async (req, res) => {
      await deps.confirmPassword(req, res);
      res.status(201).json(await deps.create(res, (req.body ?? {}) as Record<string, unknown>));
    }),
  );
  router.get(
    path,
    deps.guard,
    asyncHandler(async (_req, res) => {
      res.json({ tokens: await deps.list(res) });
    }),
  );
  router.delete(
    `${path}/:id`,
    deps.guard,
    asyncHandler(async (req, res) => {
      const id = Number(req.params.id);
      if (!Number.isSafeInteger(id) || id < 1) throw apiError('token_not_found', 'no such token');
      await deps.revoke(res, id);
      res.status(204).end();
    }),
  );
}

/** What the JSON API answers for a refused login. */
export function loginError(
  reason: 'wrong' | 'blocked' | 'busy' | 'token_not_allowed' | 'totp_required',
): AppError {
  switch (reason) {
    case 'blocked':
      return apiError('too_many_requests', 'too many failed logins from your address; try again later');
    case 'busy':
      return apiError('busy', 'too many logins are being checked; try again in a few seconds');
    case 'token_not_allowed':
      return apiError(
        'token_not_allowed',
        'an update token can update addresses and ACME values only; use the password',
      );
    default:
      return apiError('unauthorized', 'wrong hostname or password');
  }
}
