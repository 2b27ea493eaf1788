import { fileURLToPath } from 'node:url';
import type { Logger } from '@mydns/runtime';
import express, { type Express } from 'express';
import helmet from 'helmet';
import { createAccountsRouter } from './accounts/routes.ts';
import type { Config } from './config.ts';
import { createDyndnsRouter } from './dyndns/routes.ts';
import { createHealthRouter, type ReadinessChecks } from './health/routes.ts';
import { createHostsRouter } from './hosts/routes.ts';
import { createErrorHandler, notFoundHandler } from './http/errors.ts';
import { collapseSlashes, requestContext } from './http/request-context.ts';
import { requireSameOrigin } from './http/same-origin.ts';
import { routeGroup } from './metrics/metrics.ts';
import type { Services } from './services.ts';
import { requestReset } from './web/account/reset-routes.ts';
import { createWebNotFound, createWebRouter, webErrorPage } from './web/routes.ts';
import { isWebPath } from './web/web-paths.ts';

export interface AppDeps {
  config: Config;
  services: Services;
  logger: Logger;
  readiness: ReadinessChecks;
}

const PUBLIC = fileURLToPath(new URL('../public', import.meta.url));

/** The Express application; no I/O happens at import or here, only wiring. */
export function createApp(deps: AppDeps): Express {
  const { config, services, logger } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', false); // the update endpoints parse the raw query themselves
  app.locals.logger = logger;
  app.use(collapseSlashes);
  app.use(requestContext(logger, config.trustedProxies));
  const { metrics } = services;
  app.use((req, res, next) => {
    const started = performance.now();
    res.on('finish', () => {
      metrics.httpDuration.observe(
        { route: routeGroup(req.path), method: req.method, status: String(res.statusCode) },
        (performance.now() - started) / 1000,
      );
    });
    next();
  });
  app.use(createHealthRouter(deps.readiness));
  app.get('/metrics', async (_req, res, next) => {
    try {
      res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    } catch (error) {
      next(error);
    }
  });
  // The update endpoints first: no security headers a router would never read.
  app.use(
    createDyndnsRouter({
      service: services.updates,
      parseOptions: { zones: config.zones, allowPrivateAddresses: config.allowPrivateAddresses },
      onReply: (codes) => {
        for (const code of codes) metrics.updateResults.inc({ code });
      },
    }),
  );
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          baseUri: ["'none'"],
          objectSrc: ["'none'"],
        },
      },
      // HSTS only means something over HTTPS; the reverse proxy in front sets it.
      strictTransportSecurity: false,
      // Not helmet's no-referrer: with it, browsers send `Origin: null` on our own
      // form posts, and the same-origin check (http/same-origin.ts) needs the origin.
      // Other sites still learn nothing (no Referer leaves the origin).
      referrerPolicy: { policy: 'same-origin' },
    }),
  );
  app.use('/static', express.static(PUBLIC, { index: false, maxAge: '1h', fallthrough: true }));
  // Browsers ask for /favicon.ico whatever the page links.
  app.get('/favicon.ico', (_req, res, next) => {
    res.sendFile('favicon.ico', { root: PUBLIC, maxAge: '1d' }, (error) => error && next(error));
  });
  // Past this point, a state-changing request from another origin is refused.
  app.use(requireSameOrigin({ publicUrl: config.publicUrl }));
  app.use(createWebRouter({ config, services, sessions: services.sessions }));
  app.use(
    createHostsRouter({
      zones: config.zones,
      hosts: services.hosts,
      records: services.records,
      authenticator: services.authenticator,
      sessions: services.sessions,
      registrationLimiter: services.limiters.registrations,
      notices: services.notices,
      webhooks: services.webhooks,
    }),
  );
  app.use(
    createAccountsRouter({
      accounts: services.accounts,
      hosts: services.hosts,
      authenticator: services.authenticator,
      sessions: services.sessions,
      registrationLimiter: services.limiters.registrations,
      requestReset: (email, res) => requestReset(services, email, res),
    }),
  );
  app.use(createWebNotFound(config));
  app.use(notFoundHandler);
  app.use(createErrorHandler({ isWebPath, page: (error, status) => webErrorPage(config, error, status) }));
  return app;
}
