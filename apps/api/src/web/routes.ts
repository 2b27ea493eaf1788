import { checkRegistrableLabel, fqdn } from '@mydns/domain';
import type { AppError } from '@mydns/runtime';
import express, { type Request, type RequestHandler, type Response, Router } from 'express';
import type { Config } from '../config.ts';
import type { HostsService } from '../hosts/hosts-service.ts';
import { asyncHandler } from '../http/async-handler.ts';
import type { Services } from '../services.ts';
import { addAccountPages } from './account/account-routes.ts';
import { addResetPages } from './account/reset-routes.ts';
import { addDashboardRoutes } from './dashboard-routes.ts';
import { field, send } from './form.ts';
import type { Problem } from './form-view.ts';
import type { SafeHtml } from './html.ts';
import { layout, type PageContext } from './layout.ts';
import { loginProblem } from './login-problems.ts';
import { errorPage, landingPage, loginPage, messagePage, notFoundPage, registerPage } from './pages.ts';
import { problemOf } from './problems.ts';
import { sameSecret, type WebSession, type WebSessions } from './sessions.ts';
import { isWebPath } from './web-paths.ts';

/**
 * The owner's web pages (docs/interfaces.md, "Web pages"): registration, sign-in, the dashboard and
 * its forms. Every form is CSRF-protected; every input is validated here on
 * the server (the little JavaScript there is only helps). State-changing
 * forms answer with a redirect (post/redirect/get), except where a secret is
 * shown once (a new token), which must not be put in a URL; a mistake
 * re-renders the form's page with the problem beside the form. Every address
 * a form posts to also answers a GET (its page), so re-opening it is no 404.
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
    send(res, status, layout(pageContext(config, res, title), body));
  };

  const withSession: RequestHandler = async (req, res, next) => {
    try {
      res.locals.session = await sessions.load(req, res);
      next();
    } catch (error) {
      next(error);
    }
  };
  /** Signed-in forms carry the session's CSRF secret. */
  const checkCsrf: RequestHandler = (req, res, next) => {
    const session = res.locals.session;
    if (!session || !sameSecret(session.csrf, field(req.body, '_csrf'))) {
      page(
        req,
        res,
        'Expired form',
        messagePage('This form has expired', 'Please open the page again and retry.', {
          href: formPage(req.baseUrl + req.path),
          label: 'Open the page again',
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
    page(req, res, 'Get a hostname', registerPage(config.zones, sessions.anonymousCsrf(req, res)));
  });

  router.post(
    '/register',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const values = {
        hostname: field(req.body, 'hostname'),
        email: field(req.body, 'email'),
        zone: field(req.body, 'zone'),
      };
      const again = (problem: Problem, status = 400) =>
        page(req, res, 'Get a hostname', registerPage(config.zones, csrf, { values, problem }), status);
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf')))
        return again({ text: 'The form expired; please try again.' }, 403);
      if (field(req.body, 'password') !== field(req.body, 'confirm'))
        return again({ text: 'The two passwords differ.', field: 'confirm' });
      if (!services.limiters.registrations.hit(services.authenticator.limitKey(res.locals.client))) {
        return again({ text: 'Too many registrations from your address; please try again later.' }, 429);
      }
      try {
        const host = await hosts.register(
          {
            hostname: values.hostname,
            password: field(req.body, 'password'),
            email: values.email,
            zone: values.zone,
          },
          { owner: services.authenticator.limitKey(res.locals.client) },
        );
        res.locals.logger.info('host registered', { host: host.hostname });
        const record = await hosts.get(host.hostname);
        await sessions.start(res, record);
        res.redirect(303, '/dashboard?notice=welcome');
      } catch (error) {
        const problem = problemOf(error, {
          fields: { hostname: 'hostname', password: 'password', email: 'email', zone: 'zone' },
        });
        if (problem) return again(problem, (error as AppError).status);
        throw error;
      }
    }),
  );

  router.get('/login', (req, res) => {
    if (res.locals.session) {
      res.redirect(303, '/dashboard');
      return;
    }
    page(req, res, 'Sign in', loginPage(config.zones, sessions.anonymousCsrf(req, res)));
  });

  addAccountPages(router, { config, services, sessions, page, form, checkCsrf });
  router.post(
    '/login',
    form,
    asyncHandler(async (req, res) => {
      const csrf = sessions.anonymousCsrf(req, res);
      const values = { hostname: field(req.body, 'hostname') };
      const again = (text: string, status: number) =>
        page(req, res, 'Sign in', loginPage(config.zones, csrf, { values, problem: { text } }), status);
      if (!sessions.checkAnonymousCsrf(req, res, field(req.body, '_csrf')))
        return again('The form expired; please try again.', 403);
      const login = await services.authenticator.authenticate({
        source: res.locals.client,
        username: values.hostname,
        secret: field(req.body, 'password'),
        purpose: 'manage',
        edge: 'web',
      });
      if (!login.ok) {
        const problem = loginProblem(login.reason);
        return again(problem.message, problem.status);
      }
      const { host } = login;
      await sessions.start(res, host);
      res.redirect(303, '/dashboard');
    }),
  );

  router.get('/logout', (_req, res) => res.redirect(303, '/'));
  router.post(
    '/logout',
    form,
    checkCsrf,
    asyncHandler(async (req, res) => {
      await sessions.end(req, res);
      res.redirect(303, '/');
    }),
  );

  addDashboardRoutes(router, { config, services, sessions, page, form, checkCsrf });
  addResetPages(router, { config, services, sessions, page, form });

  /** Live availability for the registration form (the form works without it); `?zone=` as the form's choice. */
  router.get(
    '/api/v1/availability/:name',
    asyncHandler(async (req, res) => {
      const name = String(req.params.name ?? '');
      const asked = new URL(req.originalUrl, 'http://localhost').searchParams.get('zone');
      const zone = hosts.registrationZone({ hostname: name, zone: asked ?? undefined });
      const check = checkRegistrableLabel(name, zone);
      if (!check.ok) {
        res.json({ available: false, message: check.message });
        return;
      }
      const taken = !(await hosts.isAvailable(check.label, zone));
      res.json({
        available: !taken,
        message: taken ? `${fqdn(check.label, zone)} is taken` : `${fqdn(check.label, zone)} is available`,
      });
    }),
  );

  return router;
}

function pageContext(config: Config, res: Response, title: string): PageContext {
  const session = res.locals.session;
  return {
    zone: config.zone,
    title,
    ...(session?.host
      ? { signedIn: { hostname: fqdn(session.host.name, session.host.zone), csrf: session.csrf } }
      : session
        ? { signedIn: { hostname: session.account.email, csrf: session.csrf, href: '/account' } }
        : {}),
  };
}

/** The page a form belongs to: /dashboard/settings for /dashboard/settings/password (an account's host's alike). */
export function formPage(path: string): string {
  const match =
    /^((?:\/account\/hosts\/[^/]+)?\/dashboard)(?:\/(setups|tokens|mail|records|settings))?(\/|$)/i.exec(
      path,
    );
  if (match) return `${match[1]}${match[2] ? `/${match[2].toLowerCase()}` : ''}`;
  const account = /^\/account\/(tokens|notifications|settings)(\/|$)/i.exec(path);
  if (account) return `/account/${account[1]?.toLowerCase()}`;
  return path.startsWith('/account') ? '/account' : '/';
}

/** A web page that does not exist: an HTML 404 (machine paths go on to the JSON one). */
export function createWebNotFound(config: Config): RequestHandler {
  return (req, res, next) => {
    if (!isWebPath(req.path)) return next();
    send(
      res,
      404,
      layout(pageContext(config, res, 'Page not found'), notFoundPage(Boolean(res.locals.session))),
    );
  };
}

/** HTML error pages for the web paths; the JSON API keeps its JSON errors. */
export function webErrorPage(config: Config, error: unknown, status: number): string {
  const [title, text] =
    status === 413
      ? ['Too much to send', 'That form was larger than this service takes. Please shorten what you typed.']
      : status < 500
        ? ['That did not work', problemOf(error)?.text ?? 'The request could not be understood.']
        : status === 503
          ? ['Please try again soon', 'The service cannot reach its database right now.']
          : ['Something went wrong', 'Something went wrong on our side; please try again in a moment.'];
  return layout({ zone: config.zone, title }, errorPage(title, text)).value;
}
