import { checkRegistrableLabel, fqdn, labelFromUsername } from '@mydns/domain';
import { AppError } from '@mydns/runtime';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import type { Config } from '../config.ts';
import type { HostsService } from '../hosts/hosts-service.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { Services } from '../services.ts';
import { html, type SafeHtml } from './html.ts';
import {
  dashboardPage,
  type FormState,
  landingPage,
  layout,
  loginPage,
  messagePage,
  registerPage,
} from './pages.ts';
import { sameSecret, type WebSession, type WebSessions } from './sessions.ts';
import { buildSetups } from './setups.ts';

/**
 * The owner's web pages (issue 3 §1): registration, sign-in, the dashboard and
 * its forms. Every form is CSRF-protected; every input is validated here on
 * the server (the little JavaScript there is only helps). State-changing
 * forms answer with a redirect (post/redirect/get), except where a secret is
 * shown once (a new token), which must not be put in a URL.
 */

export interface WebDeps {
  config: Config;
  services: Services;
  sessions: WebSessions;
}

declare global {
  namespace Express {
    interface Locals {
      session: WebSession | undefined;
    }
  }
}

/** Fixed notices a redirect may name (never text from the request). */
const NOTICES: Record<string, string> = {
  'token-revoked': 'The token was revoked; clients using it are refused from now on.',
  'mail-saved': 'Mail forwarding settings saved.',
  'password-changed': 'Password changed. Other sessions were signed out.',
  welcome: 'Welcome! Set up an updater below; your hostname gets an address with its first update.',
};

function send(res: Response, status: number, page: SafeHtml): void {
  res.status(status).type('html').setHeader('Cache-Control', 'no-store');
  res.send(page.value);
}

function field(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

/** The address clients reach this service at: the setting, or the request's own Host. */
function baseUrl(config: Config, req: Request, res: Response): string {
  if (config.publicUrl) return config.publicUrl;
  const host = req.headers.host ?? '';
  const safe = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$/.test(host)
    ? host
    : `localhost:${config.http.port}`;
  return `${res.locals.https ? 'https' : 'http'}://${safe}`;
}

export function createWebRouter(deps: WebDeps): Router {
  const { config, services, sessions } = deps;
  const hosts: HostsService = services.hosts;
  const router = Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 50 });
  const page = (_req: Request, res: Response, title: string, body: SafeHtml, status = 200) => {
    const session = res.locals.session;
    send(
      res,
      status,
      layout(
        {
          zone: config.zone,
          title,
          ...(session
            ? { signedIn: { hostname: fqdn(session.host.name, config.zone), csrf: session.csrf } }
            : {}),
        },
        body,
      ),
    );
  };

  const withSession: RequestHandler = async (req, res, next) => {
    try {
      res.locals.session = await sessions.load(req);
      next();
    } catch (error) {
      next(error);
    }
  };
  const requireSession: RequestHandler = (_req, res, next) => {
    if (!res.locals.session) res.redirect(303, '/login');
    else next();
  };
  /** Signed-in forms carry the session's CSRF secret. */
  const checkCsrf: RequestHandler = (req, res, next) => {
    const session = res.locals.session;
    if (!session || !sameSecret(session.csrf, field(req.body, '_csrf'))) {
      page(
        req,
        res,
        'Expired form',
        messagePage('This form has expired', 'Please go back, reload the page and try again.', {
          href: '/dashboard',
          label: 'Back',
        }),
        403,
      );
      return;
    }
    next();
  };

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

  router.use(withSession);

  router.get('/', (req, res) => {
    if (res.locals.session) {
      res.redirect(303, '/dashboard');
      return;
    }
    page(req, res, 'Free dynamic DNS', landingPage(config.zone, config.registration === 'open'));
  });

  router.get('/register', (req, res) => {
    if (config.registration === 'closed') {
      page(
        req,
        res,
        'Registration closed',
        messagePage('Registration is closed', 'This service does not take new hostnames at the moment.', {
          href: '/',
          label: 'Back',
        }),
        403,
      );
      return;
    }
    page(req, res, 'Get a hostname', registerPage(config.zone, sessions.anonymousCsrf(req, res)));
  });

  router.post(
    '/register',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const values = { hostname: field(req.body, 'hostname'), email: field(req.body, 'email') };
      const again = (errors: string[], status = 400) =>
        page(req, res, 'Get a hostname', registerPage(config.zone, csrf, { values, errors }), status);
      if (!sessions.checkAnonymousCsrf(req, field(req.body, '_csrf')))
        return again(['The form expired; please try again.'], 403);
      if (field(req.body, 'password') !== field(req.body, 'confirm'))
        return again(['The two passwords differ.']);
      if (!services.limiters.registrations.hit(res.locals.client.text)) {
        return again(['Too many registrations from your address; please try again later.'], 429);
      }
      try {
        const host = await hosts.register({
          hostname: values.hostname,
          password: field(req.body, 'password'),
          email: values.email,
        });
        res.locals.logger.info('host registered', { host: host.name });
        const record = await hosts.get(host.name);
        await sessions.start(res, record);
        res.redirect(303, '/dashboard?notice=welcome');
      } catch (error) {
        if (error instanceof AppError && error.status < 500) return again([error.message], error.status);
        throw error;
      }
    }),
  );

  router.get('/login', (req, res) => {
    if (res.locals.session) {
      res.redirect(303, '/dashboard');
      return;
    }
    page(req, res, 'Sign in', loginPage(config.zone, sessions.anonymousCsrf(req, res)));
  });

  router.post(
    '/login',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const values = { hostname: field(req.body, 'hostname') };
      const again = (errors: string[], status: number) =>
        page(req, res, 'Sign in', loginPage(config.zone, csrf, { values, errors }), status);
      if (!sessions.checkAnonymousCsrf(req, field(req.body, '_csrf')))
        return again(['The form expired; please try again.'], 403);
      const client = res.locals.client.text;
      if (services.limiters.loginFailures.isLimited(client)) {
        return again(['Too many failed sign-ins from your address; please wait 15 minutes.'], 429);
      }
      const label = labelFromUsername(values.hostname, config.zone);
      const host = label === undefined ? undefined : await hosts.find(label);
      const credential = host
        ? await services.authenticator.verify(host, field(req.body, 'password'))
        : undefined;
      // Only the password signs in; a token is for updates.
      if (!host || credential?.via !== 'password') {
        services.limiters.loginFailures.hit(client);
        return again(['Wrong hostname or password.'], 401);
      }
      await sessions.start(res, host);
      res.redirect(303, '/dashboard');
    }),
  );

  router.post(
    '/logout',
    form,
    requireSession,
    checkCsrf,
    asyncHandler(async (req, res) => {
      await sessions.end(req, res);
      res.redirect(303, '/');
    }),
  );

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
        if (error instanceof AppError && error.status < 500)
          return renderDashboard(req, res, { state: { errors: [error.message] } }, error.status);
        throw error;
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
        if (error instanceof AppError && error.status < 500) {
          return renderDashboard(req, res, { state: { errors: [error.message] } }, 400);
        }
        throw error;
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
      const fail = (message: string, status = 400) =>
        renderDashboard(req, res, { state: { errors: [message] } }, status);
      const current = await services.authenticator.verify(host, field(req.body, 'current'));
      if (current?.via !== 'password') return fail('The current password is wrong.', 401);
      if (field(req.body, 'password') !== field(req.body, 'confirm'))
        return fail('The two new passwords differ.');
      try {
        await hosts.changePassword(host, field(req.body, 'password'));
      } catch (error) {
        if (error instanceof AppError && error.status < 500) return fail(error.message);
        throw error;
      }
      await sessions.endOthers(host, session);
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
      const fail = (message: string, status = 400) =>
        renderDashboard(req, res, { state: { errors: [message] } }, status);
      if (typed !== name && typed !== host.name) return fail(`Type ${name} to confirm the deletion.`);
      const credential = await services.authenticator.verify(host, field(req.body, 'password'));
      if (credential?.via !== 'password') return fail('The password is wrong.', 401);
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

  /** Live availability for the registration form (the form works without it). */
  router.get(
    '/api/v1/availability/:name',
    asyncHandler(async (req, res) => {
      const check = checkRegistrableLabel(String(req.params.name ?? ''), config.zone);
      if (!check.ok) {
        res.json({ available: false, message: check.message });
        return;
      }
      const taken = Boolean(await hosts.find(check.label));
      res.json({
        available: !taken,
        message: taken
          ? `${fqdn(check.label, config.zone)} is taken`
          : `${fqdn(check.label, config.zone)} is available`,
      });
    }),
  );

  return router;
}

/** HTML error pages for the web routes; the JSON API keeps its JSON errors. */
export function webErrorPage(config: Config, error: unknown): string {
  return layout(
    { zone: config.zone, title: 'Something went wrong' },
    html`<section class="narrow"><h1>Something went wrong</h1><p>${
      error instanceof AppError && error.status < 500 ? error.message : 'Please try again in a moment.'
    }</p><p><a href="/">Home</a></p></section>`,
  ).value;
}
