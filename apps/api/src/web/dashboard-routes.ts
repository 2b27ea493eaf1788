import { fqdn } from '@mydns/domain';
import { AppError } from '@mydns/runtime';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { Config } from '../config.ts';
import type { HostsService } from '../hosts/hosts-service.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { Services } from '../services.ts';
import { baseUrl, field } from './form.ts';
import type { SafeHtml } from './html.ts';
import { loginProblem } from './login-problems.ts';
import { dashboardPage, type FormState, messagePage } from './pages.ts';
import type { WebSession, WebSessions } from './sessions.ts';
import { buildSetups } from './setups.ts';

/**
 * The signed-in owner's dashboard and its forms: tokens, mail forwarding,
 * password, deletion. Every route here needs a session and every form its
 * CSRF value (the middleware comes from routes.ts).
 */

export interface DashboardContext {
  config: Config;
  services: Services;
  sessions: WebSessions;
  page: (req: Request, res: Response, title: string, body: SafeHtml, status?: number) => void;
  form: RequestHandler;
  requireSession: RequestHandler;
  checkCsrf: RequestHandler;
}

/** Fixed notices a redirect may name (never text from the request). */
const NOTICES: Record<string, string> = {
  'token-revoked': 'The token was revoked; clients using it are refused from now on.',
  'mail-saved': 'Mail forwarding settings saved.',
  'password-changed': 'Password changed. Other sessions were signed out.',
  welcome: 'Welcome! Set up an updater below; your hostname gets an address with its first update.',
};

export function addDashboardRoutes(router: Router, context: DashboardContext): void {
  const { config, services, sessions, page, form, requireSession, checkCsrf } = context;
  const hosts: HostsService = services.hosts;

  const renderDashboard = async (
    req: Request,
    res: Response,
    extra: { state?: FormState; newToken?: { label: string; token: string } } = {},
    status = 200,
  ) => {
    const session = res.locals.session as WebSession;
    const host = await hosts.get(session.host.name);
    const view = hosts.view(host);
    const [tokens, history] = await Promise.all([hosts.listTokens(host), hosts.history(host, 20)]);
    const noticeKey = new URL(req.originalUrl, 'http://x').searchParams.get('notice') ?? '';
    const notice = NOTICES[noticeKey];
    const state: FormState = extra.state ?? (notice ? { notice } : {});
    page(
      req,
      res,
      view.hostname,
      dashboardPage({
        host: view,
        csrf: session.csrf,
        inactivityDays: config.lifecycle.inactivityDays,
        tokens,
        history,
        setups: buildSetups({
          baseUrl: baseUrl(config, req, res),
          hostname: view.hostname,
          secret: extra.newToken?.token ?? 'YOUR_TOKEN',
        }),
        ...(extra.newToken ? { newToken: extra.newToken } : {}),
        state,
        now: new Date(),
      }),
      status,
    );
  };

  /** The dashboard again, with the message above it. */
  const showError = (req: Request, res: Response, message: string, status = 400) =>
    renderDashboard(req, res, { state: { errors: [message] } }, status);
  /** A person's mistake (a 4xx) is shown on the page; anything else goes on to the error handler. */
  const showUserError = (req: Request, res: Response, error: unknown) => {
    if (error instanceof AppError && error.status < 500)
      return showError(req, res, error.message, error.status);
    throw error;
  };

  /** The signed-in owner's password, checked like a sign-in (same limits); a problem to show, or undefined. */
  const checkPassword = async (
    _req: Request,
    res: Response,
    host: { name: string },
    secret: string,
    wrong = 'The current password is wrong.',
  ) => {
    const login = await services.authenticator.authenticate({
      source: res.locals.client,
      username: host.name,
      secret,
      purpose: 'manage',
      edge: 'web',
    });
    return login.ok ? undefined : loginProblem(login.reason, wrong);
  };

  router.get(
    '/dashboard',
    requireSession,
    asyncHandler(async (req, res) => renderDashboard(req, res)),
  );

  router.post(
    '/dashboard/tokens',
    form,
    requireSession,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const host = (res.locals.session as WebSession).host;
      try {
        const created = await hosts.createToken(host, field(req.body, 'label'));
        await renderDashboard(req, res, { newToken: { label: created.label, token: created.token } });
      } catch (error) {
        await showUserError(req, res, error);
      }
    }),
  );

  router.post(
    '/dashboard/tokens/:id/revoke',
    form,
    requireSession,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const host = (res.locals.session as WebSession).host;
      const id = Number(req.params.id);
      if (Number.isSafeInteger(id) && id > 0) await hosts.revokeToken(host, id).catch(() => undefined);
      res.redirect(303, '/dashboard?notice=token-revoked');
    }),
  );

  router.post(
    '/dashboard/mail',
    form,
    requireSession,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const host = await hosts.get((res.locals.session as WebSession).host.name);
      const portText = field(req.body, 'port').trim();
      const fingerprint = field(req.body, 'fingerprint').trim();
      try {
        await hosts.updateMail(host, {
          enabled: field(req.body, 'enabled') === 'on',
          port: portText === '' ? null : /^[0-9]{1,5}$/.test(portText) ? Number(portText) : Number.NaN,
          clientAddress: field(req.body, 'clientAddress'),
          tls: field(req.body, 'tls'),
          fingerprint: fingerprint === '' ? null : fingerprint,
        });
        res.redirect(303, '/dashboard?notice=mail-saved');
      } catch (error) {
        await showUserError(req, res, error);
      }
    }),
  );

  router.post(
    '/dashboard/password',
    form,
    requireSession,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = res.locals.session as WebSession;
      const host = await hosts.get(session.host.name);
      const fail = (message: string, status?: number) => showError(req, res, message, status);
      const current = await checkPassword(req, res, host, field(req.body, 'current'));
      if (current) return fail(current.message, current.status);
      if (field(req.body, 'password') !== field(req.body, 'confirm'))
        return fail('The two new passwords differ.');
      try {
        // Ends every other session of the host.
        await hosts.changePassword(host, field(req.body, 'password'), {
          keepSession: session,
          owner: services.authenticator.limitKey(res.locals.client),
        });
      } catch (error) {
        return showUserError(req, res, error);
      }
      res.locals.logger.info('password changed', { host: host.name });
      res.redirect(303, '/dashboard?notice=password-changed');
    }),
  );

  router.post(
    '/dashboard/delete',
    form,
    requireSession,
    checkCsrf,
    asyncHandler(async (req, res) => {
      const session = res.locals.session as WebSession;
      const host = await hosts.get(session.host.name);
      const name = fqdn(host.name, config.zone);
      const typed = field(req.body, 'confirm').trim().toLowerCase();
      const fail = (message: string, status?: number) => showError(req, res, message, status);
      if (typed !== name && typed !== host.name) return fail(`Type ${name} to confirm the deletion.`);
      const wrong = await checkPassword(
        req,
        res,
        host,
        field(req.body, 'password'),
        'The password is wrong.',
      );
      if (wrong) return fail(wrong.message, wrong.status);
      await hosts.remove(host);
      await sessions.end(req, res);
      res.locals.session = undefined;
      res.locals.logger.info('host deleted', { host: host.name });
      page(
        req,
        res,
        'Deleted',
        messagePage(`${name} is deleted`, 'Its records have left DNS and the name is free again.', {
          href: '/',
          label: 'Home',
        }),
      );
    }),
  );
}
