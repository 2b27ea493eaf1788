import type { Logger } from '@mydns/runtime';
import express, { type Express } from 'express';
import type { Config } from './config.ts';
import { createDyndnsRouter } from './dyndns/routes.ts';
import { createHealthRouter, type ReadinessChecks } from './health/routes.ts';
import { createHostsRouter } from './hosts/routes.ts';
import { errorHandler, notFoundHandler } from './http/errors.ts';
import { collapseSlashes, requestContext } from './http/request-context.ts';
import type { Services } from './services.ts';

export interface AppDeps {
  config: Config;
  services: Services;
  logger: Logger;
  readiness: ReadinessChecks;
}

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
  app.use(createHealthRouter(deps.readiness));
  app.use(
    createDyndnsRouter({
      service: services.updates,
      parseOptions: { zone: config.zone, allowPrivateAddresses: config.allowPrivateAddresses },
    }),
  );
  app.use(
    createHostsRouter({
      zone: config.zone,
      hosts: services.hosts,
      authenticator: services.authenticator,
      failureLimiter: services.limiters.loginFailures,
      registrationLimiter: services.limiters.registrations,
    }),
  );
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
