import type { AccountRecord, AddressNoticesRepository, HostRecord } from '@mydns/db';
import { fqdn, labelFromUsername } from '@mydns/domain';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import { type Authenticator, type Credential, covers } from '../auth/authenticator.ts';
import type { RateLimiter } from '../auth/rate-limiter.ts';
import { parseBasicAuthorization } from '../dyndns/parse-update-request.ts';
import { apiError } from '../errors.ts';
import {
  addTokenRoutes,
  createCurrentPasswordCheck,
  loadApiSession,
  loginError,
} from '../http/api-credentials.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { WebSessions } from '../web/sessions.ts';
import type { WebhooksService } from '../webhooks/webhooks-service.ts';
import type { HostsService, Pushed } from './hosts-service.ts';
import { checkMailSettings } from './mail-settings.ts';
import { createRecordsRouter } from './records-routes.ts';
import type { RecordsService } from './records-service.ts';

declare global {
  namespace Express {
    interface Locals {
      host: HostRecord;
      credential: Credential;
      /** Set when an account's credentials or session act on one of its hosts. */
      account: AccountRecord | undefined;
    }
  }
}

export interface HostsRouterDeps {
  /** The zones served, the default first: `{name}` is a bare label (the default zone) or a full name. */
  zones: readonly string[];
  /** A signed-in web session counts as the password (writes also need its CSRF token). */
  sessions: WebSessions;
  hosts: HostsService;
  /** The owner's records and the wildcard. */
  records: RecordsService;
  authenticator: Authenticator;
  registrationLimiter: RateLimiter;
  /** Address-change notices (notifications/address-notices.ts). */
  notices: Pick<AddressNoticesRepository, 'setEmail' | 'isOn'>;
  /** Host webhooks (webhooks/webhooks-service.ts). */
  webhooks: Pick<WebhooksService, 'check' | 'set' | 'clear' | 'url'>;
}

/**
 * `{"notify":{"email":true,"webhook":"https://…"}}` (null or false: off; a
 * key left out: unchanged). Notices go to an account's verified address: a
 * host of its own has none to go to. A webhook needs no address, so any host
 * may have one (README "Webhooks").
 */
function checkNotify(notify: unknown, host: HostRecord): { email?: boolean; webhook?: unknown } {
  if (typeof notify !== 'object' || notify === null || Array.isArray(notify))
    throw apiError('invalid_notify', 'notify is an object: {"email": true, "webhook": "https://…"}');
  const { email, webhook, ...rest } = notify as Record<string, unknown>;
  if (Object.keys(rest).length > 0)
    throw apiError('invalid_notify', `unknown notices: ${Object.keys(rest).join(', ')}`);
  if (email !== undefined && email !== true && email !== false && email !== null)
    throw apiError('invalid_notify', 'notify.email is true, false or null');
  if (email === true && (host.accountId === null || host.accountId === undefined))
    throw apiError('invalid_notify', 'notices go to an account: add this host to an account first');
  return {
    ...(email === undefined ? {} : { email: email === true }),
    ...(webhook === undefined ? {} : { webhook }),
  };
}

/**
 * The JSON API of a host (docs/interfaces.md, "JSON API"). Basic auth with the host's
 * password manages everything; an update token may only update addresses
 * (the DynDNS endpoints) and ACME values.
 */
export function createHostsRouter(deps: HostsRouterDeps): Router {
  const router = Router();
  const json = express.json({ limit: '16kb' });
  /** Whether the `{name}` of the path names this host. */
  const isNamed = (param: unknown, host: HostRecord) => {
    const named = labelFromUsername(String(param ?? ''), deps.zones);
    return named?.label === host.name && named.zone === host.zone;
  };

  const authenticate =
    (allowTokens: boolean): RequestHandler =>
    async (req, res, next) => {
      try {
        const { client } = res.locals;
        const session = await loadApiSession(deps.sessions, req, res);
        if (session) {
          const who = session.account ? { account: session.account } : { host: session.host };
          await actOn(req, res, who, { via: 'password' }, 'this session is');
          res.locals.session = session;
          next();
          return;
        }
        res.setHeader('WWW-Authenticate', 'Basic realm="MyDNS", charset="UTF-8"');
        const credentials = parseBasicAuthorization(req.headers.authorization);
        if (!credentials) throw apiError('unauthorized', 'valid credentials are required');
        const login = await deps.authenticator.authenticate({
          source: client,
          username: credentials.username,
          secret: credentials.secret,
          purpose: allowTokens ? 'update' : 'manage',
          edge: 'api',
          accounts: true,
        });
        if (!login.ok) throw loginError(login.reason);
        res.removeHeader('WWW-Authenticate');
        const who = login.account ? { account: login.account } : { host: login.host };
        await actOn(req, res, who, login.credential, 'these credentials are');
        res.locals.session = undefined;
        next();
      } catch (error) {
        next(error);
      }
    };
  /**
   * Sets the host the request acts on: the path's, if it is the signed-in
   * host or one of the account's hosts the credential covers; else 403.
   */
  const actOn = async (
    req: Request,
    res: Response,
    who: { account: AccountRecord; host?: undefined } | { host: HostRecord; account?: undefined },
    credential: Credential,
    subject: string,
  ) => {
    if (who.account) {
      const host = await accountHost(who.account, credential, req);
      if (!host) throw apiError('forbidden', `${subject} for other hosts`);
      res.locals.host = host;
    } else {
      if (!isNamed(req.params.name, who.host)) throw apiError('forbidden', `${subject} for another host`);
      res.locals.host = who.host;
    }
    res.locals.account = who.account;
    res.locals.credential = credential;
  };
  /** The host named in the path, if the account's credential covers it. */
  const accountHost = async (account: AccountRecord, credential: Credential, req: Request) => {
    const named = labelFromUsername(String(req.params.name ?? ''), deps.zones);
    const host = named === undefined ? undefined : await deps.hosts.find(fqdn(named.label, named.zone));
    return host && covers(account, credential, host) ? host : undefined;
  };
  const passwordOnly = authenticate(false);
  const passwordOrToken = authenticate(true);

  // An account's session confirms with the account's password, a host's with the host's.
  const confirmPassword = createCurrentPasswordCheck(deps.authenticator, (res) =>
    res.locals.account ? res.locals.account.email : fqdn(res.locals.host.name, res.locals.host.zone),
  );

  /** A change that reached PowerDNS answers at once; one still pending says so (it will be pushed). */
  const answerPushed = (res: Response, result: Pushed, status: number, body?: unknown) => {
    if (!result.pushed) {
      throw apiError('dns_pending', 'saved; PowerDNS has not taken the change yet and it will be retried');
    }
    if (body === undefined) res.status(status).end();
    else res.status(status).json(body);
  };

  router.post(
    '/api/v1/hosts',
    json,
    asyncHandler(async (req, res) => {
      if (!deps.registrationLimiter.hit(deps.authenticator.limitKey(res.locals.client))) {
        throw apiError('too_many_requests', 'too many registrations from this address; try again later');
      }
      const body = (req.body ?? {}) as Record<string, unknown>;
      const host = await deps.hosts.register({
        hostname: body.hostname,
        password: body.password,
        email: body.email,
        zone: body.zone,
      });
      res.locals.logger.info('host registered', { host: host.hostname });
      // The default zone's hosts keep their bare label here, as before there were zones.
      const path = host.zone === deps.zones[0] ? host.name : host.hostname;
      res.status(201).location(`/api/v1/hosts/${path}`).json(host);
    }),
  );

  router.get('/api/v1/hosts/:name', passwordOnly, (_req, res) => {
    res.json(deps.hosts.view(res.locals.host));
  });

  router.patch(
    '/api/v1/hosts/:name',
    passwordOnly,
    json,
    asyncHandler(async (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const known = new Set(['password', 'mail', 'wildcard', 'currentPassword', 'notify']);
      const unknown = Object.keys(body).filter((key) => !known.has(key));
      if (unknown.length > 0) {
        throw apiError('unknown_fields', `cannot change: ${unknown.join(', ')}`);
      }
      const { host } = res.locals;
      // Validate everything before changing anything.
      if (body.mail !== undefined) checkMailSettings(body.mail, host.mail);
      const notify = body.notify === undefined ? {} : checkNotify(body.notify, host);
      const webhook = notify.webhook === undefined ? undefined : await deps.webhooks.check(notify.webhook);
      if (body.wildcard !== undefined) deps.records.checkWildcard(body.wildcard);
      if (body.password !== undefined) {
        await confirmPassword(req, res);
        // Every session ends but the one making the change (if it is one).
        await deps.hosts.changePassword(host, body.password, { keepSession: res.locals.session });
        res.locals.logger.info('password changed', { host: host.name });
      }
      let pushed: Pushed = { pushed: true };
      if (body.mail !== undefined) pushed = await deps.hosts.updateMail(host, body.mail);
      if (notify.email !== undefined) await deps.notices.setEmail(host.id, notify.email);
      let webhookSecret: string | undefined;
      if (webhook === null) await deps.webhooks.clear(host.id);
      else if (webhook !== undefined) webhookSecret = await deps.webhooks.set(host.id, webhook);
      if (body.wildcard !== undefined) {
        const wildcard = await deps.records.setWildcard(host, body.wildcard);
        pushed = { pushed: pushed.pushed && wildcard.pushed };
      }
      const updated = await deps.hosts.get(fqdn(host.name, host.zone));
      const view = deps.hosts.view(updated);
      if (body.notify === undefined) {
        answerPushed(res, pushed, 200, view);
        return;
      }
      // The webhook is in the answer once it concerns the host; its secret only right after it is made.
      const url = await deps.webhooks.url(host.id);
      answerPushed(res, pushed, 200, {
        ...view,
        notify: {
          email: await deps.notices.isOn(host.id),
          ...(url !== undefined || webhook !== undefined ? { webhook: url ?? null } : {}),
          ...(webhookSecret === undefined ? {} : { webhookSecret }),
        },
      });
    }),
  );

  router.delete(
    '/api/v1/hosts/:name',
    passwordOnly,
    json,
    asyncHandler(async (req, res) => {
      await confirmPassword(req, res);
      const pushed = await deps.hosts.remove(res.locals.host);
      res.locals.logger.info('host deleted', { host: fqdn(res.locals.host.name, res.locals.host.zone) });
      answerPushed(res, pushed, 204);
    }),
  );

  addTokenRoutes(router, '/api/v1/hosts/:name/tokens', {
    guard: passwordOnly,
    confirmPassword,
    create: (res, body) => deps.hosts.createToken(res.locals.host, body.label),
    list: (res) => deps.hosts.listTokens(res.locals.host),
    revoke: (res, id) => deps.hosts.revokeToken(res.locals.host, id),
  });

  router.post(
    '/api/v1/hosts/:name/acme-challenge',
    passwordOrToken,
    json,
    asyncHandler(async (req, res) => {
      const value = req.body?.value;
      const pushed = await deps.hosts.addAcmeValue(res.locals.host, value);
      const { host } = res.locals;
      answerPushed(res, pushed, 201, { name: `_acme-challenge.${fqdn(host.name, host.zone)}`, value });
    }),
  );

  router.delete(
    '/api/v1/hosts/:name/acme-challenge/:value',
    passwordOrToken,
    asyncHandler(async (req, res) => {
      const pushed = await deps.hosts.removeAcmeValue(res.locals.host, String(req.params.value));
      answerPushed(res, pushed, 204);
    }),
  );

  router.use(createRecordsRouter({ records: deps.records, passwordOnly, answerPushed }));

  router.get(
    '/api/v1/hosts/:name/history',
    passwordOnly,
    asyncHandler(async (req, res) => {
      const asked = new URL(req.originalUrl, 'http://localhost').searchParams.get('limit');
      const limit = Math.min(Math.max(Number(asked ?? 100) || 100, 1), 1000);
      res.json({ history: await deps.hosts.history(res.locals.host, limit) });
    }),
  );

  return router;
}
