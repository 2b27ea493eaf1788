import { checkRegistrableLabel, fqdn } from '@mydns/domain';
import { AppError } from '@mydns/runtime';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import type { Config } from '../config.ts';
import type { HostsService } from '../hosts/hosts-service.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { Services } from '../services.ts';
import { addDashboardRoutes } from './dashboard-routes.ts';
import { field, send } from './form.ts';
import { html, type SafeHtml } from './html.ts';
import { loginProblem } from './login-problems.ts';
import { landingPage, layout, loginPage, messagePage, registerPage } from './pages.ts';
import { sameSecret, type WebSession, type WebSessions } from './sessions.ts';

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
      if (!services.limiters.registrations.hit(services.authenticator.limitKey(res.locals.client))) {
        return again(['Too many registrations from your address; please try again later.'], 429);
      }
      try {
        const host = await hosts.register(
          { hostname: values.hostname, password: field(req.body, 'password'), email: values.email },
          { owner: services.authenticator.limitKey(res.locals.client) },
        );
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
      const login = await services.authenticator.authenticate({
        source: res.locals.client,
        username: values.hostname,
        secret: field(req.body, 'password'),
        purpose: 'manage',
        edge: 'web',
      });
      if (!login.ok) {
        const problem = loginProblem(login.reason);
        return again([problem.message], problem.status);
      }
      const { host } = login;
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

  addDashboardRoutes(router, { config, services, sessions, page, form, requireSession, checkCsrf });

  /** Live availability for the registration form (the form works without it). */
  router.get(
    '/api/v1/availability/:name',
    asyncHandler(async (req, res) => {
      const check = checkRegistrableLabel(String(req.params.name ?? ''), config.zone);
      if (!check.ok) {
        res.json({ available: false, message: check.message });
        return;
      }
      const taken = !(await hosts.isAvailable(check.label));
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
