import type { AccountRecord } from '@mydns/db';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import type { Authenticator } from '../auth/authenticator.ts';
import type { RateLimiter } from '../auth/rate-limiter.ts';
import { parseBasicAuthorization } from '../dyndns/parse-update-request.ts';
import { apiError } from '../errors.ts';
import type { HostsService } from '../hosts/hosts-service.ts';
import {
  addTokenRoutes,
  createCurrentPasswordCheck,
  loadApiSession,
  loginError,
} from '../http/api-credentials.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { WebSessions } from '../web/sessions.ts';
import { type AccountsService, checkEmail } from './accounts-service.ts';

declare global {
  namespace Express {
    interface Locals {
      /** The account a request to /api/v1/account… acts as. */
      signedInAccount: AccountRecord;
    }
  }
}

export interface AccountsRouterDeps {
  accounts: AccountsService;
  hosts: HostsService;
  authenticator: Authenticator;
  sessions: WebSessions;
  /** Registrations per source: the same allowance as hosts'. */
  registrationLimiter: RateLimiter;
  /** A reset asked for by anyone (web/account/reset-routes.ts): limited, and done after the reply. */
  requestReset(email: string, res: Response): void;
}

/**
 * The JSON API of accounts (docs/interfaces.md, "Accounts"). Everything under
 * /api/v1/account takes the account's e-mail address and password (Basic)
 * or its signed-in session (writes with its CSRF header); a token is never
 * enough here. A session alone does not change the password, delete the
 * account or make a token: the body carries `currentPassword` too.
 */
export function createAccountsRouter(deps: AccountsRouterDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });
  const bodyOf = (req: Request) => (req.body ?? {}) as Record<string, unknown>;

  const requireAccount: RequestHandler = async (req, res, next) => {
    try {
      const session = await loadApiSession(deps.sessions, req, res);
      if (session?.account) {
        res.locals.signedInAccount = session.account;
        res.locals.session = session;
        next();
        return;
      }
      res.setHeader('WWW-Authenticate', 'Basic realm="MyDNS", charset="UTF-8"');
      const credentials = parseBasicAuthorization(req.headers.authorization);
      if (!credentials)
        throw apiError('unauthorized', 'the account e-mail address and password are required');
      const login = await deps.authenticator.authenticate({
        source: res.locals.client,
        username: credentials.username,
        secret: credentials.secret,
        purpose: 'manage',
        edge: 'api',
        accounts: true,
      });
      if (!login.ok) throw loginError(login.reason);
      if (!login.account)
        throw apiError('unauthorized', 'sign in with the account e-mail address, not a hostname');
      res.removeHeader('WWW-Authenticate');
      res.locals.signedInAccount = login.account;
      res.locals.session = undefined;
      next();
    } catch (error) {
      next(error);
    }
  };

  /** A session's sensitive change also carries the account's password (a stolen cookie is not enough). */
  const confirmPassword = createCurrentPasswordCheck(
    deps.authenticator,
    (res) => res.locals.signedInAccount.email,
  );

  const owner = (res: Response) => deps.authenticator.limitKey(res.locals.client);
  const only = (body: Record<string, unknown>, known: readonly string[]) => {
    const unknown = Object.keys(body).filter((key) => !known.includes(key));
    if (unknown.length > 0) throw apiError('unknown_fields', `unknown fields: ${unknown.join(', ')}`);
  };

  router.post(
    '/api/v1/accounts',
    json,
    asyncHandler(async (req, res) => {
      if (!deps.registrationLimiter.hit(owner(res))) {
        throw apiError('too_many_requests', 'too many registrations from this address; try again later');
      }
      const body = bodyOf(req);
      const account = await deps.accounts.register(
        { email: body.email, password: body.password },
        { owner: owner(res) },
      );
      res.locals.logger.info('account registered', { account: account.id });
      res.status(201).location('/api/v1/account').json({ email: account.email, verified: false });
    }),
  );

  router.post(
    '/api/v1/account/verify-email',
    json,
    asyncHandler(async (req, res) => {
      const account = await deps.accounts.verifyEmail(bodyOf(req).token);
      res.locals.logger.info('account e-mail address verified', { account: account.id });
      res.status(204).end();
    }),
  );

  router.post(
    '/api/v1/account/password-reset',
    json,
    asyncHandler(async (req, res) => {
      const email = checkEmail(bodyOf(req).email);
      // Counted and answered alike whether or not the account exists; the lookup and the
      // mail happen after the reply, so not even the time taken tells.
      deps.requestReset(email, res);
      res.status(202).end();
    }),
  );

  router.post(
    '/api/v1/account/password-reset/confirm',
    json,
    asyncHandler(async (req, res) => {
      const body = bodyOf(req);
      const account = await deps.accounts.confirmPasswordReset(body.token, body.password, {
        owner: owner(res),
      });
      res.locals.logger.info('account password reset', { account: account.id });
      res.status(204).end();
    }),
  );

  router.get(
    '/api/v1/account',
    requireAccount,
    asyncHandler(async (_req, res) => {
      res.json(await deps.accounts.view(res.locals.signedInAccount));
    }),
  );

  router.patch(
    '/api/v1/account',
    requireAccount,
    json,
    asyncHandler(async (req, res) => {
      const body = bodyOf(req);
      only(body, ['password', 'currentPassword']);
      if (body.password !== undefined) {
        await confirmPassword(req, res);
        await deps.accounts.changePassword(res.locals.signedInAccount, body.password, {
          keepSession: res.locals.session,
          owner: owner(res),
        });
        res.locals.logger.info('account password changed', { account: res.locals.signedInAccount.id });
      }
      res.json(await deps.accounts.view(await deps.accounts.reload(res.locals.signedInAccount)));
    }),
  );

  router.delete(
    '/api/v1/account',
    requireAccount,
    json,
    asyncHandler(async (req, res) => {
      const account = res.locals.signedInAccount;
      const confirm = bodyOf(req).confirm;
      if (typeof confirm !== 'string' || confirm.trim().toLowerCase() !== account.email.toLowerCase()) {
        throw apiError(
          'confirmation_required',
          'send confirm: the account e-mail address; the account and all its hosts are deleted',
        );
      }
      await confirmPassword(req, res);
      const pushed = await deps.accounts.remove(account);
      res.locals.logger.info('account deleted', { account: account.id });
      if (res.locals.session) await deps.sessions.end(req, res);
      if (!pushed.pushed) {
        throw apiError(
          'dns_pending',
          'deleted; PowerDNS has not taken every change yet and it will be retried',
        );
      }
      res.status(204).end();
    }),
  );

  router.post(
    '/api/v1/account/hosts',
    requireAccount,
    json,
    asyncHandler(async (req, res) => {
      const body = bodyOf(req);
      only(body, ['hostname', 'zone', 'password']);
      const account = res.locals.signedInAccount;
      if (body.password === undefined) {
        const host = await deps.accounts.addHost(account, { hostname: body.hostname, zone: body.zone });
        res.locals.logger.info('host registered in an account', { host: host.name, account: account.id });
        res.status(201).location(`/api/v1/hosts/${host.hostname}`).json(host);
        return;
      }
      // Claiming: the host's own password proves the host is the caller's.
      if (typeof body.hostname !== 'string' || typeof body.password !== 'string')
        throw apiError('bad_request', 'hostname and password are required to claim a host');
      const login = await deps.authenticator.authenticate({
        source: res.locals.client,
        username: body.hostname,
        secret: body.password,
        purpose: 'manage',
        edge: 'api',
      });
      if (!login.ok) throw loginError(login.reason);
      const host = await deps.accounts.claimHost(account, login.host);
      res.locals.logger.info('host claimed into an account', { host: host.name, account: account.id });
      res.status(200).json(host);
    }),
  );

  addTokenRoutes(router, '/api/v1/account/tokens', {
    guard: requireAccount,
    confirmPassword,
    create: (res, body) =>
      deps.accounts.createToken(res.locals.signedInAccount, { label: body.label, hosts: body.hosts }),
    list: (res) => deps.accounts.listTokens(res.locals.signedInAccount),
    revoke: (res, id) => deps.accounts.revokeToken(res.locals.signedInAccount, id),
  });

  router.post(
    '/api/v1/account/totp',
    requireAccount,
    json,
    asyncHandler(async (req, res) => {
      await confirmPassword(req, res);
      const setup = await deps.accounts.secondFactor.start(res.locals.signedInAccount);
      res.status(201).json(setup);
    }),
  );

  router.post(
    '/api/v1/account/totp/confirm',
    requireAccount,
    json,
    asyncHandler(async (req, res) => {
      await deps.accounts.secondFactor.confirm(res.locals.signedInAccount, bodyOf(req).code);
      res.locals.logger.info('account TOTP turned on', { account: res.locals.signedInAccount.id });
      res.status(204).end();
    }),
  );

  return router;
}
